"""Records: the facts about people kept on this node, each with its one owner.

Cases and the events of a person's return (``cases``), consents and withdrawals (``consents``),
legal holds (``holds``), a person's access cards, portal sessions and correction requests
(``person_access``), and the access log (``accesslog``), a leaf every layer above may write to.
Records know nothing of other nodes: exchanging with them is the layer above.
"""
