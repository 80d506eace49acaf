"""The words of a consent receipt, in the languages a receipt can be printed in.

Kept as plain tables so a translator can review one language in one place. A language not listed
falls back to English. ``RTL`` lists the right-to-left languages.
"""

from __future__ import annotations

RTL = frozenset({"ar", "fa", "ps", "ur", "he"})

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "title": "Consent receipt",
        "intro": "This receipt records what you agreed to share, with whom and for what. Keep it.",
        "recorded_by": "Recorded by",
        "purpose": "Purpose",
        "recipient": "Shared with",
        "any_partner": "any partner with the role",
        "sections": "Information that may be shared",
        "given_by": "Consent given by",
        "method": "How consent was given",
        "valid_from": "Valid from",
        "valid_until": "Valid until",
        "no_end": "until you withdraw it",
        "status": "Status",
        "withdraw_title": "How to withdraw or change this consent",
        "withdraw_text": (
            "You can withdraw or narrow this consent at any time, free of charge and without "
            "giving a reason. Ask your caseworker, or use your access card on the portal. Every "
            "organisation that received your information must then delete it and confirm."
        ),
        "reference": "Consent reference",
        "version": "Version",
        "signature": "Signature",
        "verify": (
            "This receipt is signed by the organisation's node. Anyone can check the signature "
            "with the node's public key, listed in the federation directory under the key id."
        ),
    },
    "fr": {
        "title": "Reçu de consentement",
        "intro": (
            "Ce reçu indique ce que vous avez accepté de partager, avec qui et dans quel but. "
            "Conservez-le."
        ),
        "recorded_by": "Enregistré par",
        "purpose": "Finalité",
        "recipient": "Partagé avec",
        "any_partner": "tout partenaire ayant le rôle",
        "sections": "Informations pouvant être partagées",
        "given_by": "Consentement donné par",
        "method": "Forme du consentement",
        "valid_from": "Valable à partir du",
        "valid_until": "Valable jusqu'au",
        "no_end": "jusqu'à ce que vous le retiriez",
        "status": "Statut",
        "withdraw_title": "Comment retirer ou modifier ce consentement",
        "withdraw_text": (
            "Vous pouvez retirer ou limiter ce consentement à tout moment, gratuitement et sans "
            "donner de raison. Adressez-vous à votre conseiller ou utilisez votre carte d'accès "
            "sur le portail. Chaque organisation qui a reçu vos informations doit alors les "
            "supprimer et le confirmer."
        ),
        "reference": "Référence du consentement",
        "version": "Version",
        "signature": "Signature",
        "verify": (
            "Ce reçu est signé par le nœud de l'organisation. Chacun peut vérifier la signature "
            "avec la clé publique du nœud, publiée dans l'annuaire de la fédération."
        ),
    },
    "es": {
        "title": "Recibo de consentimiento",
        "intro": ("Este recibo indica qué aceptó compartir, con quién y para qué. Consérvelo."),
        "recorded_by": "Registrado por",
        "purpose": "Finalidad",
        "recipient": "Compartido con",
        "any_partner": "cualquier socio con la función",
        "sections": "Información que puede compartirse",
        "given_by": "Consentimiento dado por",
        "method": "Forma del consentimiento",
        "valid_from": "Válido desde",
        "valid_until": "Válido hasta",
        "no_end": "hasta que lo retire",
        "status": "Estado",
        "withdraw_title": "Cómo retirar o cambiar este consentimiento",
        "withdraw_text": (
            "Puede retirar o limitar este consentimiento en cualquier momento, de forma gratuita "
            "y sin dar explicaciones. Pídalo a su trabajador social o use su tarjeta de acceso en "
            "el portal. Cada organización que recibió su información deberá borrarla y "
            "confirmarlo."
        ),
        "reference": "Referencia del consentimiento",
        "version": "Versión",
        "signature": "Firma",
        "verify": (
            "Este recibo está firmado por el nodo de la organización. Cualquiera puede comprobar "
            "la firma con la clave pública del nodo, publicada en el directorio de la federación."
        ),
    },
    "ar": {
        "title": "إيصال الموافقة",
        "intro": "يسجّل هذا الإيصال ما وافقتَ على مشاركته، ومع مَن، ولأيّ غرض. احتفظ به.",
        "recorded_by": "سجّلته",
        "purpose": "الغرض",
        "recipient": "تتم المشاركة مع",
        "any_partner": "أيّ شريك يؤدي الدور",
        "sections": "المعلومات التي يجوز مشاركتها",
        "given_by": "أعطى الموافقة",
        "method": "طريقة إعطاء الموافقة",
        "valid_from": "سارية من",
        "valid_until": "سارية حتى",
        "no_end": "إلى أن تسحبها",
        "status": "الحالة",
        "withdraw_title": "كيف تسحب هذه الموافقة أو تغيّرها",
        "withdraw_text": (
            "يمكنك سحب هذه الموافقة أو تضييقها في أيّ وقت، مجانًا ودون ذكر السبب. اطلب ذلك من "
            "المرشد المسؤول عن ملفك، أو استخدم بطاقة الوصول الخاصة بك على البوابة. وعندها يجب على "
            "كل جهة تلقّت معلوماتك أن تحذفها وتؤكّد الحذف."
        ),
        "reference": "مرجع الموافقة",
        "version": "النسخة",
        "signature": "التوقيع",
        "verify": (
            "هذا الإيصال موقَّع من خادم الجهة. يمكن لأيّ شخص التحقق من التوقيع باستخدام المفتاح العام "
            "للخادم المنشور في دليل الاتحاد."
        ),
    },
}

PURPOSES: dict[str, dict[str, str]] = {
    "en": {
        "travel_assistance": "help with travel",
        "medical_escort": "medical escort during travel",
        "arrival_reception": "reception on arrival",
        "reintegration_assistance": "reintegration support",
        "reintegration_monitoring": "follow-up of reintegration",
        "child_handover": "handover of a child to their carer",
    },
    "fr": {
        "travel_assistance": "aide au voyage",
        "medical_escort": "escorte médicale pendant le voyage",
        "arrival_reception": "accueil à l'arrivée",
        "reintegration_assistance": "aide à la réintégration",
        "reintegration_monitoring": "suivi de la réintégration",
        "child_handover": "remise d'un enfant à la personne qui en a la garde",
    },
    "es": {
        "travel_assistance": "ayuda para el viaje",
        "medical_escort": "acompañamiento médico durante el viaje",
        "arrival_reception": "recepción a la llegada",
        "reintegration_assistance": "apoyo a la reintegración",
        "reintegration_monitoring": "seguimiento de la reintegración",
        "child_handover": "entrega de un niño a su cuidador",
    },
    "ar": {
        "travel_assistance": "المساعدة في السفر",
        "medical_escort": "مرافقة طبية أثناء السفر",
        "arrival_reception": "الاستقبال عند الوصول",
        "reintegration_assistance": "دعم إعادة الإدماج",
        "reintegration_monitoring": "متابعة إعادة الإدماج",
        "child_handover": "تسليم طفل إلى من يتولى رعايته",
    },
}

SECTIONS: dict[str, dict[str, str]] = {
    "en": {
        "travel": "travel plan",
        "medical": "health needs",
        "arrival": "arrival needs",
        "reintegration": "reintegration plan",
    },
    "fr": {
        "travel": "plan de voyage",
        "medical": "besoins de santé",
        "arrival": "besoins à l'arrivée",
        "reintegration": "plan de réintégration",
    },
    "es": {
        "travel": "plan de viaje",
        "medical": "necesidades de salud",
        "arrival": "necesidades a la llegada",
        "reintegration": "plan de reintegración",
    },
    "ar": {
        "travel": "خطة السفر",
        "medical": "الاحتياجات الصحية",
        "arrival": "الاحتياجات عند الوصول",
        "reintegration": "خطة إعادة الإدماج",
    },
}

GIVERS: dict[str, dict[str, str]] = {
    "en": {
        "data_subject": "you",
        "parent": "a parent",
        "guardian": "a guardian",
        "legal_representative": "a legal representative",
    },
    "fr": {
        "data_subject": "vous-même",
        "parent": "un parent",
        "guardian": "un tuteur",
        "legal_representative": "un représentant légal",
    },
    "es": {
        "data_subject": "usted",
        "parent": "un padre o una madre",
        "guardian": "un tutor",
        "legal_representative": "un representante legal",
    },
    "ar": {
        "data_subject": "أنت",
        "parent": "أحد الوالدين",
        "guardian": "الوصي",
        "legal_representative": "ممثل قانوني",
    },
}

METHODS: dict[str, dict[str, str]] = {
    "en": {
        "signed_form": "signed form",
        "verbal_with_witness": "spoken, with a witness",
        "digital": "digital",
    },
    "fr": {
        "signed_form": "formulaire signé",
        "verbal_with_witness": "oral, devant un témoin",
        "digital": "numérique",
    },
    "es": {
        "signed_form": "formulario firmado",
        "verbal_with_witness": "verbal, ante un testigo",
        "digital": "digital",
    },
    "ar": {
        "signed_form": "استمارة موقَّعة",
        "verbal_with_witness": "شفهيًا بحضور شاهد",
        "digital": "رقميًا",
    },
}

STATUSES: dict[str, dict[str, str]] = {
    "en": {"active": "in force", "narrowed": "narrowed", "withdrawn": "withdrawn"},
    "fr": {"active": "en vigueur", "narrowed": "limité", "withdrawn": "retiré"},
    "es": {"active": "vigente", "narrowed": "limitado", "withdrawn": "retirado"},
    "ar": {"active": "سارية", "narrowed": "مضيَّقة", "withdrawn": "مسحوبة"},
}
