"""A fake arXiv for the intake tests: recorded API answers through a fake transport and a fake
clock, so no test touches the network or waits out arXiv's three seconds."""

from dataclasses import dataclass, field

import pytest
from django.conf import settings

from papers import arxiv_api

DATA = settings.BASE_DIR.parent / "shared" / "data"
# arXiv's answer to "deep dream", recorded (10 entries).
DEEP_DREAM = (DATA / "arxiv-deep-dream.atom.xml").read_text(encoding="utf-8")
EMPTY_FEED = '<?xml version="1.0"?>\n<feed xmlns="http://www.w3.org/2005/Atom"></feed>\n'


@dataclass
class FakeArxiv:
    """Answers each request with the next of `answers` (a (status, text) or an exception)."""

    answers: list = field(default_factory=lambda: [(200, DEEP_DREAM)])
    requests: list = field(default_factory=list)
    now: float = 1_000_000.0
    slept: list = field(default_factory=list)

    def __call__(self, url, *, params, headers, timeout):
        self.requests.append(
            {"url": url, "params": params, "headers": headers, "timeout": timeout, "at": self.now}
        )
        answer = self.answers[min(len(self.requests), len(self.answers)) - 1]
        if isinstance(answer, Exception):
            raise answer
        return answer

    # The clock the client reads, and the sleep that moves it on.
    def time(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_arxiv(monkeypatch):
    fake = FakeArxiv()
    monkeypatch.setattr(arxiv_api, "requests_transport", fake)
    monkeypatch.setattr(arxiv_api, "time", fake)
    return fake
