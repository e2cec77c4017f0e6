import pytest

from parasim.data.splitter import split_sentences


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hi. Yes!  No?\nOk", ["Hi.", "Yes!", "No?", "Ok"]),  # spec example 1
        ("Wait... what?", ["Wait...", "what?"]),  # spec example 2: lone dots merge back
        ("No?\nOk", ["No?", "Ok"]),  # the reference's end-of-text bug gave "No?Ok"
        ("", []),
        ("   \n\t ", []),
        ("One sentence without terminator", ["One sentence without terminator"]),
        ("A. b", ["A.b"]),  # a 1-char last piece joins the previous one
        ("a. Bc.", ["a.", "Bc."]),  # exactly 2 chars stand alone
        ("x\n\ny", ["x\ny"]),  # "x\n" stands (2 chars); the lone "y" merges back
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
