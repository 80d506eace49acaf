"""The ISO code lists in ``schemas.iso`` match pycountry's current lists exactly.

``schemas/iso.py`` is generated once so that the runtime does not depend on pycountry; these tests
make an ISO update show up as a failure instead of a silent drift.
"""

from __future__ import annotations

import pycountry

from schemas.iso import COUNTRY_CODES, LANGUAGE_CODES


class TestCountryCodes:
    def test_country_codes_equal_pycountry_alpha_2_list(self) -> None:
        expected = {country.alpha_2 for country in pycountry.countries}

        assert set(COUNTRY_CODES) == expected


class TestLanguageCodes:
    def test_language_codes_equal_pycountry_alpha_2_list(self) -> None:
        expected = {
            language.alpha_2
            for language in pycountry.languages
            if getattr(language, "alpha_2", None) is not None
        }

        assert set(LANGUAGE_CODES) == expected
