"""The text scan that lets the native parser's values through unchecked (spec 01 §1: kumahc reads YAML 1.1 as the
safe loader does; yaml-rs reads YAML 1.2).

:func:`plain_reading` looks at the TEXT, never at the values: when none of the constructs below appears, the values
yaml-rs gives are exactly those the PyYAML path builds (same types, nulls in mappings absent, string keys, nesting
within kumahc's bound, integers within 64 bits), so no Python walk over the nodes is needed. A text that shows one
of them may still be read the same: it then takes the checked path (every value checked,
:func:`kumahc.resources.yaml.native.native`). The scan may flag too much, never too little; a differential
property test (``tests/resources/test_native_scan.py``) holds it to that.

It runs after :data:`kumahc.resources.yaml.native.NOT_NATIVE` let the text through, so anchors, aliases, tags,
merge keys, directives, escapes, tabs, block scalars, ``?`` keys and numbers with a leading zero are gone already.
"""

from __future__ import annotations

import re

# A plain scalar starts at a line's start, after a space (``key: x``, ``- x``), a ``[`` or a ``,`` (flow); the check
# follows the scalar's first character, so that each pattern starts with a character class (the regex engine then
# skips to candidate characters instead of trying every position).
_STARTED = r"(?<![^ \n\[,].)"
# ... and ends before the end of the line, a comment, a flow "," or "]" (a value) or before ": " (a key).
_VALUE_END = r"(?=[ \r]*(?:[\n,\]#]|\Z))"
_KEY_END = r"(?=:(?:[ \r\n]|\Z))"
_END = f"(?:{_VALUE_END}|{_KEY_END})"

# Everything YAML 1.1 or yaml-rs reads as a number, by the scalar's first character: more than both grammars
# together, never less. yaml-rs ignores "_" anywhere in a number ("_1" is 1, "._1e3" is 100.0) and reads ".inf"
# and ".nan" in any case; YAML 1.1 has sexagesimal ":" numbers. Two dots (an IP address, a version) or a "-" inside
# (a date) make a string in both. An int of at most 18 digits without "_" is an int in both (within 64 bits): fine
# as a value, not as a key.
_EXPONENT = r"(?:[eE][-+_0-9]*)?"
_FRACTION = r"[0-9_:]*(?:\.[0-9_:]*)?" + _EXPONENT  # after the first digit
_NUMBER_REST = ("(?:" + "|".join((
    r"(?<=[0-9])" + _FRACTION,
    r"(?<=[-+_])[-+_]*(?:(?=[0-9_:.]*[0-9])[0-9_:]*(?:\.[0-9_:]*)?" + _EXPONENT + r"|\.[a-zA-Z_]+)",
    r"(?<=\.)(?:(?=[0-9_:]*[0-9])[0-9_:]*" + _EXPONENT + r"|[a-zA-Z_]+)",
)) + ")")
_SMALL_INT = r"(?<=[-+0-9])[0-9]{0,17}"

_PATTERNS = tuple(re.compile(p) for p in (
    # One pass for the scalars, keyed by their first character:
    r"[yYnNoO=tTfF+\-0-9._]" + _STARTED + "(?:" + "|".join((
        # YAML 1.1-only booleans and the value "=" (strings to yaml-rs), nulls (dropped from mappings by kumahc)
        r"(?:(?<=[yY])(?:es|ES)|(?<=[nN])(?:o|O|ull|ULL)|(?<=[oO])(?:n|N|ff|FF)|(?<==))" + _END,
        r"(?<=[tTfF])(?:rue|RUE|alse|ALSE)" + _KEY_END,  # booleans as keys (keys must be strings)
        # numbers: floats (kumahc's checks differ), YAML 1.1-only forms, ints as keys, ints past 64 bits (the
        # compiled schema validator) or past kumahc's integer bound
        f"(?<=[-+0-9._])(?!{_SMALL_INT}{_VALUE_END}){_NUMBER_REST}{_END}",
    )) + ")",
    r"~",
    r":(?<![^ \n\[,]:)(?=[ \r\n]|\Z)",  # an empty (null) key
    r":[ ]+#",  # "key: # comment" (an empty value)
    r"\r(?!\n)",  # lone CR line breaks: the line rules below read LF
    # flow mappings that are not empty; nested flow sequences (and quotes or comments that could hide one)
    r"\{[ \r\n]*[^ \r\n}]",
    r"\[[^\]\[\"'{:#]*[\[\"'{:#]",
))

# A line that ends with ":" (spaces after it, CR LF line breaks included).
_ENDS_WITH_COLON = r"[^\n]*:[ \r]*"

# Rules on whole lines, searched in "\n" + text (each starts at a line break).
_LINES = re.compile("\n(?:" + "|".join(f"(?:{p})" for p in (
    # a key with an empty value (null) where the next line is not its deeper content; the form of the line
    # ("key:", "- key:") fixes the column the content must pass; any other form is flagged
    r"(?P<i> *+)(?P<d>- )?+(?!#)" + _ENDS_WITH_COLON + r"(?:\n(?!(?P=i)(?(d)  )(?: +[^ #\r\n]|- ))|\Z)",
    r" *-(?: {2,}| +-)" + _ENDS_WITH_COLON,
    r"(?:---|\.\.\.)[ ]*[^ \r\n#]",  # content on a document marker's line
    # block collections deeper than 30 columns: with flow sequences one level deep, far within kumahc's 64 levels
    r"[ -]{31}",
)) + ")")


def plain_reading(text: str) -> bool:
    """True when the native parser's values for ``text`` (a text that passed ``NOT_NATIVE``) are those of the PyYAML
    path without any check (see the module's docstring); False when the values must be checked."""
    return _LINES.search("\n" + text) is None and not any(p.search(text) for p in _PATTERNS)
