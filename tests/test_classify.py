"""The classifier port, the default offline classifier, the operator's slot and `socialdesk classify`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import bridge.classify
from bridge import config as config_module
from bridge.classify import Classification, Sentiment, Urgency
from bridge.classify.default import MAX_CHARS, LexiconClassifier
from bridge.classify.lexicon import profile
from bridge.classify.plugins import ClassifierSettings, HttpClassifier, build_classifier, settings
from bridge.cli import EX_CONFIG, main
from bridge.errors import ConfigError, PermanentError, Unavailable
from sandbox.base import shutdown
from sandbox.stack import to_toml
from tests.conftest import raw_config

CLASSIFIER = LexiconClassifier()


def classify(text: str) -> Classification:
    return CLASSIFIER.classify(text)


# -- language ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("where is my order?", "en"),
        ("أين طلبي؟ لم يصل بعد", "ar"),
        ("سفارش من هنوز نرسیده", "fa"),
        ("मेरा ऑर्डर कहाँ है", "hi"),
        ("yaar mera order kab aayega", "hi"),
        ("où est ma commande ?", "fr"),
        ("wo ist meine Bestellung?", "de"),
        ("dov'è il mio ordine?", "it"),
        ("cadê o meu pedido? não chegou", "pt"),
        ("¿dónde está mi pedido?", "es"),
        ("где мой заказ?", "ru"),
        ("kje je moje naročilo?", "sl"),
    ],
)
def test_language_of_short_texts(text: str, language: str) -> None:
    assert classify(text).language == language


def test_a_text_without_words_has_no_language() -> None:
    assert classify("12345 !!!").language == "und"


# -- sentiment -----------------------------------------------------------------------------------------------


def test_negation_turns_a_good_word_negative_and_says_so() -> None:
    assert classify("the service is good").sentiment is Sentiment.POSITIVE
    negated = classify("the service is not good")
    assert negated.sentiment is Sentiment.NEGATIVE
    assert "negative: not good" in negated.reasons


@pytest.mark.parametrize(
    ("plain", "negated"),
    [("das ist gut", "das ist nicht gut"), ("c'est bien", "ce n'est pas bien"), ("es bueno", "no es bueno")],
)
def test_negation_in_other_languages(plain: str, negated: str) -> None:
    assert classify(plain).score > 0 > classify(negated).score


@pytest.mark.parametrize(
    ("plain", "intensified"),
    [
        ("good", "very good"),
        ("bad", "extremely bad"),
        ("gut", "sehr gut"),
        ("bueno", "muy bueno"),
        ("this is bad", "this is BAD"),
    ],
)
def test_intensifiers_and_capitals_strengthen(plain: str, intensified: str) -> None:
    assert abs(classify(intensified).score) > abs(classify(plain).score) > 0


def test_a_softener_weakens() -> None:
    assert 0 < classify("slightly good").score < classify("good").score


def test_what_follows_but_decides() -> None:
    result = classify("the staff were nice but the product is awful")
    assert result.sentiment is Sentiment.NEGATIVE
    assert result.reasons[0] == "negative: awful"


@pytest.mark.parametrize(
    ("text", "sentiment"), [("😡😡", Sentiment.NEGATIVE), ("😍", Sentiment.POSITIVE), ("😭", Sentiment.NEGATIVE)]
)
def test_emoji_carry_sentiment(text: str, sentiment: Sentiment) -> None:
    result = classify(f"my order {text}")
    assert result.sentiment is sentiment
    assert any(text[0] in reason for reason in result.reasons)


def test_a_plain_statement_is_neutral_with_no_reasons() -> None:
    result = classify("The store opens at nine on Monday")
    assert (result.sentiment, result.urgency, result.reasons) == (Sentiment.NEUTRAL, Urgency.NORMAL, ())


def test_only_the_first_part_of_a_long_text_is_read() -> None:
    """An own channel's message may be megabytes (a 12 MB line took 54 s and 1.35 GB): the verdict reads the first
    MAX_CHARS characters, so a word past them counts for nothing."""
    filler = "The store opens at nine on Monday. " * (MAX_CHARS // 35 + 1)
    assert classify(filler[: MAX_CHARS - 20] + " this is terrible").sentiment is Sentiment.NEGATIVE
    assert classify(filler[:MAX_CHARS] + " this is terrible").sentiment is Sentiment.NEUTRAL


@pytest.mark.parametrize(
    ("text", "sentiment"),
    [
        ("هذا رائع جدا شكرا", Sentiment.POSITIVE),
        ("خدمة سيئة جدا", Sentiment.NEGATIVE),
        ("این خیلی بد است", Sentiment.NEGATIVE),
        ("यह बहुत अच्छा है", Sentiment.POSITIVE),
        ("yaar ye bahut bakwas service hai", Sentiment.NEGATIVE),
        ("Это ужасно", Sentiment.NEGATIVE),
        ("To je res odlično, hvala", Sentiment.POSITIVE),
        ("Questo prodotto è bellissimo", Sentiment.POSITIVE),
        ("Atendimento péssimo", Sentiment.NEGATIVE),
    ],
)
def test_sentiment_in_each_script(text: str, sentiment: Sentiment) -> None:
    assert classify(text).sentiment is sentiment


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Der Kundendienst war frustrierend", "negative: frustrierend"),
        ("Il servizio è stato frustrante", "negative: frustrante"),
        ("Esto es inaceptable", "negative: inaceptable"),
        ("هذا مثير للاشمئزاز", "negative: مثير للاشمئزاز"),
        ("यह निराशाजनक है", "negative: निराशाजनक"),
        ("Это неприемлемо", "negative: неприемлемо"),
        ("این وحشتناک است", "negative: وحشتناک"),
        ("To je nesprejemljivo", "negative: nesprejemljivo"),
    ],
)
def test_a_published_lexicon_knows_words_the_hand_lists_lack(text: str, reason: str) -> None:
    """Each ``<lang>.afinn.tsv`` (machine-translated AFINN, data/SOURCES.md) rates words no hand list has."""
    result = classify(text)
    assert result.sentiment is Sentiment.NEGATIVE
    assert reason in result.reasons


def test_a_lexicon_file_is_put_on_vaders_scale() -> None:
    """AFINN rates -5..5, VADER -4..4: an AFINN file counts half, below the hand lists' weak words (2.0)."""
    assert profile("de").valence.get("ausgezeichnet") == ("ausgezeichnet", 1.5)  # AFINN 3
    assert profile("en").valence.get("horrible") == ("horrible", -2.5)  # VADER's own rating


@pytest.mark.parametrize(
    "text", ["Die Pizza kommt heute", "Das war mein Paket", "Marco ha chiamato ieri", "La mia amica arriva"]
)
def test_english_ratings_do_not_apply_to_the_languages_own_function_words(text: str) -> None:
    """German "die"/"war" and Italian "ha"/"mia" are English words the fallback lists rate."""
    result = classify(text)
    assert (result.sentiment, result.reasons) == (Sentiment.NEUTRAL, ())


@pytest.mark.parametrize("text", ["Ich würde gern wissen, wo meine Bestellung ist", "Das wurde gestern geliefert"])
def test_german_would_and_was_are_function_words_not_dignity(text: str) -> None:
    """The machine translation rated "würde" (*would*; it folds to "wurde", *was*) +2, as *Würde*, dignity: every
    such German post leaned positive and its explanation said "positive: würde"."""
    result = classify(text)
    assert (result.sentiment, result.score, result.reasons) == (Sentiment.NEUTRAL, 0.0, ())


def test_every_shipped_data_file_has_its_source_written_down() -> None:
    data = Path(bridge.classify.__file__).parent / "data"
    sources = (data / "SOURCES.md").read_text(encoding="utf-8")
    shipped = {p.name for p in data.iterdir() if p.name != "SOURCES.md" and not p.name.startswith("LICENSE")}
    assert {name for name in shipped if f"`{name}`" not in sources and not name.endswith(".toml")} == set()


def test_score_is_bounded() -> None:
    result = classify("awful terrible horrible worst disgusting scam 😡😡😡!!!!")
    assert -1.0 <= result.score < -0.9


# -- urgency -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("I will talk to my lawyer about this", "legal: lawyer"),
        ("the charger caught fire last night", "safety: caught fire"),
        ("please cancel my subscription", "cancellation: cancel"),
        ("I am still waiting for my refund", "waiting: still waiting"),
        ("your app is down again", "outage: is down"),
        ("Ich habe meinen Anwalt eingeschaltet", "legal: anwalt"),
        ("Je veux résilier mon abonnement", "cancellation: résilier"),
        ("la app no funciona desde ayer", "outage: no funciona"),
        ("вызвали скорую, телефон взорвался", "safety: скорую"),
        ("سأرفع قضية في المحكمة", "legal: قضية"),
        ("abhi tak koi jawab nahi aaya", "waiting: abhi tak"),
        ("Še vedno čakam na odgovor", "waiting: še vedno čakam"),
    ],
)
def test_urgency_names_the_category_and_the_words(text: str, reason: str) -> None:
    result = classify(text)
    assert result.urgency is Urgency.HIGH
    assert reason in result.reasons


#: One message per language and urgency category, as a customer writes it, and the reason it must give
#: (the first word of the category's list found, as the classifier reports it: lower case).
URGENT_BY_LANGUAGE = [
    ("ar", "سأتصل بمحامي وأرفع دعوى ضد الشركة", "legal: دعوى"),
    ("ar", "الشاحن سبب حريق في البيت", "safety: حريق"),
    ("ar", "أريد إلغاء الاشتراك فورا", "cancellation: إلغاء الاشتراك"),
    ("ar", "حتى الآن لم يصل الطلب", "waiting: حتى الآن"),
    ("ar", "الانترنت مقطوع من أمس", "outage: مقطوع"),
    ("de", "Ich schalte jetzt meinen Anwalt ein", "legal: anwalt"),
    ("de", "Das Ladegerät hat Feuer gefangen und es gab Rauch", "safety: feuer"),
    ("de", "Ich will meinen Vertrag sofort kündigen", "cancellation: kündigen"),
    ("de", "Ich warte seit zwei Wochen auf meine Bestellung", "waiting: warte seit"),
    ("de", "Die App funktioniert nicht mehr seit gestern", "outage: funktioniert nicht"),
    ("en", "I will take you to court over this", "legal: take you to court"),
    ("en", "The battery started to overheat and smoke", "safety: overheat"),
    ("en", "Please close my account today", "cancellation: close my account"),
    ("en", "I have been waiting for two weeks", "waiting: been waiting"),
    ("en", "Your website is down again", "outage: is down"),
    ("es", "Voy a hablar con mi abogado mañana", "legal: abogado"),
    ("es", "El cargador salió ardiendo, había humo por toda la casa", "safety: humo"),
    ("es", "Quiero darme de baja del servicio ya", "cancellation: darme de baja"),
    ("es", "Sigo esperando mi pedido desde hace un mes", "waiting: sigo esperando"),
    ("es", "Estamos sin internet desde esta mañana", "outage: sin internet"),
    ("fa", "من از شما به دادگاه شکایت میکنم", "legal: دادگاه"),
    ("fa", "شارژر آتش گرفت و همه جا دود بود", "safety: آتش"),
    ("fa", "لطفا اشتراک من را لغو کنید", "cancellation: لغو"),
    ("fa", "یک هفته است که منتظرم و هیچ خبری نیست", "waiting: منتظرم"),
    ("fa", "اینترنت از دیروز قطع است", "outage: قطع"),
    ("fr", "Je vais porter plainte contre vous", "legal: porter plainte"),
    ("fr", "Le chargeur a pris feu cette nuit", "safety: pris feu"),
    ("fr", "Je veux fermer mon compte aujourd'hui", "cancellation: fermer mon compte"),
    ("fr", "Toujours pas de nouvelles de ma commande", "waiting: toujours pas"),
    ("fr", "Internet est en panne depuis hier soir", "outage: en panne"),
    ("hi", "मैं उपभोक्ता अदालत में शिकायत करूंगा", "legal: उपभोक्ता अदालत"),
    ("hi", "चार्जर में आग लग गई", "safety: आग"),
    ("hi", "मेरा ऑर्डर रद्द कर दो", "cancellation: रद्द"),
    ("hi", "मेरा पैसा अभी तक नहीं आया", "waiting: अभी तक"),
    ("hi", "मेरा इंटरनेट नहीं चल रहा", "outage: इंटरनेट नहीं"),
    ("it", "Mi rivolgerò al mio avvocato", "legal: avvocato"),
    ("it", "Il caricatore ha preso fuoco stanotte", "safety: preso fuoco"),
    ("it", "Voglio disdire il mio contratto, non ne posso più", "cancellation: disdire"),
    ("it", "Sto ancora aspettando il rimborso", "waiting: sto ancora aspettando"),
    ("it", "La linea non funziona da ieri", "outage: non funziona"),
    ("pt", "Vou processar vocês no Procon", "legal: vou processar"),
    ("pt", "O carregador pegou fogo em casa", "safety: pegou fogo"),
    ("pt", "Quero encerrar minha conta hoje", "cancellation: encerrar minha conta"),
    ("pt", "Até agora ninguém me respondeu", "waiting: até agora"),
    ("pt", "O aplicativo está fora do ar de novo", "outage: fora do ar"),
    ("ru", "Я подам в суд на вашу компанию", "legal: подам в суд"),
    ("ru", "Зарядка загорелась ночью", "safety: загорелась"),
    ("ru", "Прошу расторгнуть договор", "cancellation: расторгнуть"),
    ("ru", "Я до сих пор не получил заказ", "waiting: до сих пор"),
    ("ru", "У меня не работает интернет", "outage: не работает"),
    ("sl", "Poklical bom svojega odvetnika", "legal: odvetnika"),
    ("sl", "Polnilec je zagorel ponoči", "safety: zagorel"),
    ("sl", "Želim odpovedati naročnino", "cancellation: odpovedati"),
    ("sl", "Še vedno čakam na paket", "waiting: še vedno čakam"),
    ("sl", "Internet spet ne deluje", "outage: ne deluje"),
]


@pytest.mark.parametrize(
    ("language", "text", "reason"), URGENT_BY_LANGUAGE, ids=[f"{r[0]}-{r[2].split(':')[0]}" for r in URGENT_BY_LANGUAGE]
)
def test_each_urgency_category_in_each_language(language: str, text: str, reason: str) -> None:
    result = classify(text)
    assert (result.language, result.urgency) == (language, Urgency.HIGH)
    assert reason in result.reasons


def test_reasons_name_the_words_as_written() -> None:
    result = classify("C'est NUL, je vais RÉSILIER   mon abonnement")
    assert result.reasons == ("negative: nul", "cancellation: résilier")


def test_english_urgency_words_count_in_another_language() -> None:
    assert "legal: lawyer" in classify("Mein lawyer wird sich melden").reasons


@pytest.mark.parametrize(
    "text", ["just waiting for the weekend", "how do I switch to dark mode?", "no smoking area", "The lawn is green"]
)
def test_everyday_phrases_are_not_urgent(text: str) -> None:
    assert classify(text).urgency is Urgency.NORMAL


def test_urgency_words_must_be_whole_words() -> None:
    assert classify("Sue and I love the new colours").urgency is Urgency.HIGH  # "sue" is a word: a known limit
    assert classify("a pursuer of cancellations").urgency is Urgency.HIGH  # cancel* is a prefix on purpose
    assert classify("he is a superb suede maker").urgency is Urgency.NORMAL


# -- the JSON contract ---------------------------------------------------------------------------------------


def test_json_round_trip() -> None:
    result = classify("not good, still waiting").to_json()
    assert Classification.from_json(json.loads(json.dumps(result))).to_json() == result


@pytest.mark.parametrize(
    "answer",
    [[], {"sentiment": "angry"}, {"sentiment": "negative", "score": "low"}, {"sentiment": "negative", "reasons": "x"},
     {"sentiment": "negative", "urgency": "now"}, {"sentiment": "negative", "score": float("nan")}],
)  # fmt: skip
def test_a_bad_answer_is_refused(answer: Any) -> None:
    with pytest.raises(PermanentError):
        Classification.from_json(answer)


# -- the operator's slot: Python ---------------------------------------------------------------------------


class FixedModel:
    """An operator's model: answers the same for every text, with what it was built with."""

    def __init__(self, sentiment: str, as_json: bool) -> None:
        self.sentiment = sentiment
        self.as_json = as_json

    def classify(self, text: str) -> Any:
        answer = {"language": "xx", "sentiment": self.sentiment, "score": -0.5, "urgency": "high", "reasons": [text]}
        return answer if self.as_json else Classification.from_json(answer)


def make_model(sentiment: str = "negative", as_json: bool = True) -> FixedModel:
    return FixedModel(sentiment, as_json)


def test_python_slot_builds_the_operators_model_with_its_options() -> None:
    for as_json in (True, False):
        table = {
            "kind": "python",
            "path": "tests.test_classify:make_model",
            "options": {"sentiment": "neutral", "as_json": as_json},
        }
        result = build_classifier(settings(table)).classify("hello")
        assert result == Classification("xx", Sentiment.NEUTRAL, -0.5, Urgency.HIGH, ("hello",))


def test_python_slot_checks_the_answers() -> None:
    classifier = build_classifier(
        settings({"kind": "python", "path": "tests.test_classify:make_model", "options": {"sentiment": "meh"}})
    )
    with pytest.raises(PermanentError, match="not a classification"):
        classifier.classify("hello")


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"kind": "magic"}, "classifier.kind"),
        ({"kind": "python"}, "classifier.path"),
        ({"kind": "python", "path": "tests.test_classify"}, "classifier.path"),
        ({"kind": "http"}, "classifier.url"),
        ({"kind": "http", "url": "ftp://x"}, "classifier.url"),
        ({"kind": "http", "url": "http://x", "timeout": 0}, "classifier.timeout"),
        ({"kind": "default", "model": "x"}, "classifier.model"),
        ({"kind": "python", "path": "tests.test_classify:options", "options": []}, "classifier.options"),
    ],
)
def test_bad_classifier_settings_name_the_key(table: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        settings(table)


@pytest.mark.parametrize(
    "path", ["tests.no_such_module:make", "tests.test_classify:no_such_factory", "tests.test_classify:CLASSIFIER"]
)
def test_a_factory_that_cannot_be_loaded_is_a_config_error(path: str) -> None:
    with pytest.raises(ConfigError, match=r"classifier\.path"):
        build_classifier(settings({"kind": "python", "path": path}))


def test_a_factory_that_fails_is_a_config_error_naming_the_key() -> None:
    """A function that wants other arguments (or a model file that is missing): it was the TypeError's own
    line, 'TypeError: dumps() missing 1 required positional argument', naming nothing of the configuration."""
    with pytest.raises(ConfigError) as e:
        build_classifier(settings({"kind": "python", "path": "json:dumps"}))
    assert e.value.message == (
        "classifier.path: json:dumps(**options) failed: TypeError: dumps() missing 1 required positional argument: "
        "'obj'"
    )


def test_without_settings_the_default_classifier() -> None:
    assert isinstance(build_classifier(), LexiconClassifier)
    assert isinstance(build_classifier(ClassifierSettings()), LexiconClassifier)


# -- the operator's slot: HTTP -------------------------------------------------------------------------------


class _Endpoint(BaseHTTPRequestHandler):
    seen: list[tuple[str | None, Any]] = []  # noqa: RUF012 - shared with the test on purpose

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).seen.append((self.headers.get("Authorization"), body))
        status, answer = {
            "boom": (500, {"error": "down"}),
            "nope": (400, {"error": "bad"}),
            "odd": (200, {"sentiment": "furious"}),
        }.get(body["text"], (200, {"language": "en", "sentiment": "positive", "score": 0.9, "reasons": ["model"]}))
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def endpoint() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Endpoint)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Endpoint.seen = []
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/classify"
    finally:
        shutdown(server)


def test_http_slot_posts_the_text_and_reads_the_answer(endpoint: str) -> None:
    classifier = build_classifier(settings({"kind": "http", "url": endpoint, "api_key": "k-123"}))
    result = classifier.classify("great stuff")
    assert result == Classification("en", Sentiment.POSITIVE, 0.9, Urgency.NORMAL, ("model",))
    assert _Endpoint.seen == [("Bearer k-123", {"text": "great stuff"})]
    assert "k-123" not in repr(classifier) and "k-123" not in repr(
        settings({"kind": "http", "url": endpoint, "api_key": "k-123"})
    )


@pytest.mark.parametrize(("text", "error"), [("boom", Unavailable), ("nope", PermanentError)])
def test_http_slot_failures(endpoint: str, text: str, error: type[Exception]) -> None:
    with pytest.raises(error, match=r"^classifier: classifier\.url: the endpoint "):  # the key an operator changes
        HttpClassifier(endpoint).classify(text)


def test_http_slot_answer_is_checked(endpoint: str) -> None:
    with pytest.raises(PermanentError):
        HttpClassifier(endpoint).classify("odd")


def test_http_slot_unreachable_is_retryable_and_names_the_key(tmp_path: Path, endpoint: str) -> None:
    """It said "classifier: classifier endpoint unreachable (ConnectionError)": which setting, it did not say."""
    closed = endpoint.replace("/classify", "").rsplit(":", 1)[0] + ":9"  # the discard port: nothing listens
    with pytest.raises(Unavailable):
        HttpClassifier(closed, timeout=0.5).classify("hello")
    config = tmp_path / "socialdesk.toml"
    config.write_text(to_toml({**raw_config(), "classifier": {"kind": "http", "url": closed, "timeout": 0.5}}))
    result = CliRunner().invoke(main, ["classify", "--config", str(config), "hello"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert (
        result.output.splitlines()[-1]
        == "Error: classifier: classifier.url: the endpoint is unreachable (ConnectionError)"
    )


# -- socialdesk classify -------------------------------------------------------------------------------------


def test_cli_writes_one_json_object_per_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no socialdesk.toml here: the default classifier
    monkeypatch.delenv("SOCIALDESK_CONFIG", raising=False)
    result = CliRunner().invoke(main, ["classify"], input="I love it\n\nmy lawyer will call\n")
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [line["sentiment"] for line in lines] == ["positive", "neutral", "neutral"]
    assert lines[2]["urgency"] == "high" and lines[2]["reasons"] == ["legal: lawyer"]
    assert [list(line) for line in lines] == [["language", "sentiment", "score", "urgency", "reasons"]] * 3


def test_cli_answers_every_line_and_names_the_first_that_is_not_utf8(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Latin-1 line among UTF-8 ones (an export from an old tool): every line still gets its answer, in order,
    and one line on stderr says which was not UTF-8, exit 1. It was a traceback's last line
    (``UnicodeDecodeError: 'utf-8' codec can't decode byte 0xe9``) and no output even for the lines before it."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SOCIALDESK_CONFIG", raising=False)
    texts = tmp_path / "texts.txt"
    texts.write_bytes("\ufeffI love it\n".encode() + b"caf\xe9 awful\r\nmy lawyer will call\n")
    result = CliRunner().invoke(main, ["classify", "--file", str(texts)])
    assert result.exit_code == 1
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["sentiment"] for line in lines] == ["positive", "negative", "neutral"]
    assert lines[2]["reasons"] == ["legal: lawyer"]
    assert result.stderr.splitlines() == [
        "Error: line 2: not UTF-8 text; classified with the undecodable bytes read as U+FFFD"
    ]


def test_cli_with_stdin_closed_says_so_in_one_line(tmp_path: Path) -> None:
    """``socialdesk classify <&-``: Python's ``sys.stdin`` is then None; it was an AttributeError on ``.buffer``."""
    env = {k: v for k, v in os.environ.items() if k != "SOCIALDESK_CONFIG"}  # the default classifier
    result = subprocess.run([sys.executable, "-m", "bridge.cli", "classify"], capture_output=True, text=True,
                            cwd=tmp_path, env=env, timeout=60, preexec_fn=lambda: os.close(0))  # fmt: skip
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.splitlines() == [
        "Error: stdin is closed: give the texts as arguments, with --file FILE, or on stdin"
    ]


def test_cli_classifies_texts_given_as_arguments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`socialdesk classify "text"`, as `rules explain "text"` takes it: it was 'Got unexpected extra argument'."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SOCIALDESK_CONFIG", raising=False)
    result = CliRunner().invoke(main, ["classify", "I love it", "my lawyer will call"])
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["sentiment"] for line in result.stdout.splitlines()] == ["positive", "neutral"]
    both = CliRunner().invoke(main, ["classify", "--file", __file__, "I love it"])
    assert both.exit_code == 2 and "give texts as arguments or --file, not both" in both.stderr


def test_cli_reads_a_file_and_uses_the_configured_classifier(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZENDESK_API_TOKEN", "t")
    config = tmp_path / "socialdesk.toml"
    config.write_text(
        '[zendesk]\nurl = "https://acme.zendesk.com"\nemail = "a@b.c"\napi_token = "${ZENDESK_API_TOKEN}"\n'
        '[classifier]\nkind = "python"\npath = "tests.test_classify:make_model"\noptions = { sentiment = "positive" }\n'
    )
    texts = tmp_path / "texts.txt"
    texts.write_text("one\ntwo\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["classify", "--config", str(config), "--file", str(texts)])
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["reasons"] for line in result.output.splitlines()] == [["one"], ["two"]]
    assert config_module.load(config).classifier.path == "tests.test_classify:make_model"


def test_cli_bad_classifier_config_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZENDESK_API_TOKEN", "t")
    config = tmp_path / "socialdesk.toml"
    config.write_text(
        '[zendesk]\nurl = "https://acme.zendesk.com"\nemail = "a@b.c"\napi_token = "t"\n[classifier]\nkind = "gpt"\n'
    )
    result = CliRunner().invoke(main, ["classify", "--config", str(config)], input="hi\n")
    assert result.exit_code == EX_CONFIG
    assert result.output.strip().splitlines() == [
        "Error: configuration: classifier.kind: 'gpt' is not one of default, python, http"
    ]
