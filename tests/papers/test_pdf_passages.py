"""A page's text becomes passages of a few sentences, bounded in size, never across pages."""

from papers.pdf_text import MAX_PASSAGE_WORDS, MIN_PASSAGE_WORDS, split_passages
from tests.papers.pdf_support import words_text


def _sentences(count, words=12):
    return " ".join(
        " ".join(["Word"] + [f"w{i}" for i in range(words - 1)]) + "." for _ in range(count)
    )


def test_short_page_is_one_passage():
    assert split_passages("A short page. It has two sentences.") == [
        "A short page. It has two sentences."
    ]


def test_blank_page_has_no_passage():
    assert split_passages("  \n\n \n") == []


def test_long_text_is_cut_between_sentences_into_bounded_passages():
    passages = split_passages(_sentences(100))  # 1,200 words
    sizes = [len(p.split()) for p in passages]
    assert all(size <= MAX_PASSAGE_WORDS for size in sizes)
    assert all(size >= MIN_PASSAGE_WORDS for size in sizes)
    assert all(p.endswith(".") for p in passages)  # no sentence cut in two
    assert sum(sizes) == 1200


def test_short_paragraphs_are_joined_and_long_ones_kept_apart():
    text = "\n\n".join([_sentences(2), _sentences(2), _sentences(10), _sentences(10)])
    sizes = [len(p.split()) for p in split_passages(text)]
    # 24+24+120 = 168 words join until past the minimum; the last paragraph stands alone.
    assert sizes == [168, 120]


def test_a_sentence_longer_than_a_passage_is_cut_between_words():
    passages = split_passages(words_text(600))
    assert [len(p.split()) for p in passages] == [250, 250, 100]


def test_line_breaks_and_hyphenation_are_undone():
    text = "Flash attention tiles the compu-\ntation so that\nthe matrix never lands in HBM."
    assert split_passages(text) == [
        "Flash attention tiles the computation so that the matrix never lands in HBM."
    ]


def test_a_short_tail_joins_the_passage_before_it():
    passages = split_passages(_sentences(15) + " Tail sentence here.")
    assert len(passages) == 1
    assert passages[0].endswith("Tail sentence here.")


def test_characters_a_database_cannot_store_are_dropped():
    # NUL from a font's encoding (PostgreSQL refuses it), a lone surrogate (not UTF-8).
    assert split_passages("Atten\x00tion is \ud800 all\x07 you need.") == [
        "Attention is ? all you need."
    ]
