"""The words of a search ``query``, as both databases' full-text engines are asked for them.

A query is an OR of its words: an item matches when it shares any word with the query (after
stemming), so extra words never exclude an item, and the engine's rank (PostgreSQL
``ts_rank_cd``, SQLite FTS5 ``bm25``) puts items sharing more, rarer words first. English stop
words are dropped on both sides (PostgreSQL's ``english`` configuration drops them itself; FTS5
has no stop words, so the same list is removed here) so "what is my colour" asks for "colour".
"""

from __future__ import annotations

import re

MAX_TERMS = 64
_WORD = re.compile(r"[^\W_]+")
# PostgreSQL's english.stop (the Snowball list), so both dialects see the same terms.
_STOP_LIST = """
    i me my myself we our ours ourselves you your yours yourself yourselves he him his himself
    she her hers herself it its itself they them their theirs themselves what which who whom
    this that these those am is are was were be been being have has had having do does did
    doing a an the and but if or because as until while of at by for with about against
    between into through during before after above below to from up down in out on off over
    under again further then once here there when where why how all any both each few more
    most other some such no nor not only own same so than too very s t can will just don
    should now
"""
STOP_WORDS = frozenset(_STOP_LIST.split())


def query_terms(query: str) -> list[str]:
    """The distinct lower-case words of ``query`` that are not stop words, in order."""
    terms: list[str] = []
    for word in _WORD.findall(query.lower()):
        if word not in STOP_WORDS and word not in terms:
            terms.append(word)
    return terms[:MAX_TERMS]


def fts5_match(terms: list[str]) -> str:
    """An FTS5 ``MATCH`` expression: any of the terms (each quoted, so none is an operator)."""
    return " OR ".join(f'"{term}"' for term in terms)


def tsquery_text(terms: list[str]) -> str:
    """``to_tsquery`` input: any of the terms (letters and digits only, so none is an operator)."""
    return " | ".join(terms)
