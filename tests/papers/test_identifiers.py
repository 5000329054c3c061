import pytest

from papers.identifiers import (
    normalise_arxiv_id,
    normalise_doi,
    normalise_title,
    split_identifiers,
    surname,
)


@pytest.mark.parametrize(
    "value",
    [
        "1506.02640",
        "1506.02640v3",
        "arXiv:1506.02640v1",
        "https://arxiv.org/abs/1506.02640v2",
        "http://arxiv.org/pdf/1506.02640v2.pdf",
        "10.48550/arXiv.1506.02640",
        "https://doi.org/10.48550/arXiv.1506.02640",
    ],
)
def test_every_spelling_of_an_arxiv_id_gives_the_bare_id(value):
    assert normalise_arxiv_id(value) == "1506.02640"


def test_old_style_arxiv_ids_keep_archive_and_subject_case():
    assert normalise_arxiv_id("hep-th/9901001v2") == "hep-th/9901001"
    assert normalise_arxiv_id("MATH.gt/0309136") == "math.GT/0309136"


@pytest.mark.parametrize("value", ["", "nonsense", "1234", "10.1145/2902251.2902286"])
def test_things_that_are_not_arxiv_ids_give_nothing(value):
    assert normalise_arxiv_id(value) == ""


@pytest.mark.parametrize(
    "value",
    [
        "10.1145/2902251.2902286",
        "https://doi.org/10.1145/2902251.2902286",
        "http://dx.doi.org/10.1145/2902251.2902286",
        "doi:10.1145/2902251.2902286",
        " DOI: 10.1145/2902251.2902286 ",
    ],
)
def test_dois_lose_their_resolver_and_case(value):
    assert normalise_doi(value) == "10.1145/2902251.2902286"


def test_wiley_doi_with_angle_brackets_and_semicolon_survives_as_in_the_csl_sample():
    raw = "10.1002/(sici)1097-0258(20000229)19:4<453::aid-sim350>3.0.co;2-5"
    url = "https://doi.org/10.1002/(SICI)1097-0258(20000229)19:4%3C453::AID-SIM350%3E3.0.CO;2-5"
    assert normalise_doi(raw) == raw
    assert normalise_doi(url) == raw


def test_an_arxiv_doi_becomes_the_arxiv_id_not_the_doi():
    assert split_identifiers("10.48550/arXiv.1412.6980", "") == ("", "1412.6980")
    both = split_identifiers("https://doi.org/10.1145/X", "1412.6980v2")
    assert both == ("10.1145/x", "1412.6980")


def test_titles_compare_without_case_accents_braces_or_punctuation():
    assert normalise_title("{FERRY}: Database-Supported  Program Exécution.") == (
        "ferry database supported program execution"
    )


def test_surname_is_the_last_word_folded():
    assert surname("Paolo Giosué Giarrusso") == "giarrusso"
    assert surname("Jean de la Fontaine") == "fontaine"
