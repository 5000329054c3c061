from tests.papers.pdf_support import media, pdf_limits  # noqa: F401  (fixtures)
