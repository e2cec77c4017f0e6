import pytest

from parasim.data.splitter import Span, split_sentences, split_spans


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hi. Yes!  No?\nOk", ["Hi.", "Yes!", "No?", "Ok"]),  # spec example 1
        ("Wait... what?", ["Wait...", "what?"]),  # spec example 2: lone dots merge back
        ("No?\nOk", ["No?", "Ok"]),  # the reference's end-of-text bug gave "No?Ok"
        ("", []),
        ("   \n\t ", []),
        ("One sentence without terminator", ["One sentence without terminator"]),
        ("A. b", ["A. b"]),  # a 1-char last piece joins the previous one (whitespace between kept: a slice)
        ("a. Bc.", ["a.", "Bc."]),  # exactly 2 chars stand alone
        ("x\n\ny", ["x\n\ny"]),  # "x\n" stands (2 chars); the lone "y" merges back
        ("Line one\nLine two\n", ["Line one\n", "Line two\n"]),
        ("Really?! Yes.", ["Really?!", "Yes."]),
        ("Emoji 😀 works. Ça va?", ["Emoji 😀 works.", "Ça va?"]),
    ],
)
def test_reference_splitter(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected


def test_split_keeps_all_text_but_whitespace_between_pieces() -> None:
    text = "First.  Second!\n  Third? Last bit"
    assert "".join(split_sentences(text)) == "First.Second!Third?Last bit"


@pytest.mark.parametrize("text", ["Hi. Yes!  No?\nOk", "Wait... what?", ". Hello. x", "  A. b\n\n c! ", "x\n\ny", "",
                                  "Emoji 😀 works. Ça va?", "No terminator at all"])
def test_spans_slice_back_to_the_sentences(text: str) -> None:
    spans = split_spans(text)
    assert [text[s:e] for s, e in spans] == split_sentences(text)
    assert all(not text[s].isspace() for s, _ in spans)  # a span starts at its piece's first character
    assert all(a.end <= b.start for a, b in zip(spans, spans[1:], strict=False))  # ordered, disjoint
    outside = [text[a.end:b.start] for a, b in zip([Span(0, 0), *spans], [*spans, Span(len(text), len(text))],
                                                   strict=True)]
    assert all(not gap.strip() for gap in outside)  # only whitespace falls outside the spans: no text lost
