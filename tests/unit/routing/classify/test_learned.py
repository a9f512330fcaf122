"""The classifier's broader rules, the learned scorer, and each decision's confidence
(``PromptProfile.primary/confidence/runner_up/scores``).

Prompts here are the hard kinds (reasoning without maths words, code without a language
beside a code noun, polite or non-English JSON requests, tricky negatives); they
check rules and documented behaviour, not the eval set's figures (``make eval`` measures those).
"""

from __future__ import annotations

import json
import math
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from muxer_litellm.host import MessageInput
from muxer_litellm.routing import PromptProfile, classify_prompt
from muxer_litellm.routing.classify import LEARNED_THRESHOLD, RULE_CONFIDENCE, classifier
from muxer_litellm.routing.classify.boilerplate import needful_context, request_core
from muxer_litellm.routing.classify.focus import (
    FOCUS_HEAD,
    FOCUS_PREVIOUS,
    FOCUS_SYSTEM,
    FOCUS_TAIL,
    focus_parts,
    focus_text,
)
from muxer_litellm.routing.classify.learned import (
    MODEL_CLASSES,
    LearnedModel,
    features,
    filler_features,
    load_model,
    symbols,
    text_features,
    tokens,
)
from muxer_litellm.routing.classify.terms import asks_for_prose
from muxer_litellm.routing.classify.vocabulary import CODE_TERMS, NO_ANAGRAM, anagram_key, with_anagrams

NO_LONG = 10**9


def classify(text: str | list[MessageInput], **kwargs: Any) -> PromptProfile:
    kwargs.setdefault("long_context_tokens", NO_LONG)
    messages: list[MessageInput] = [{"role": "user", "content": text}] if isinstance(text, str) else text
    return classify_prompt(messages, **kwargs)


@pytest.fixture
def rules_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(classifier, "load_model", lambda: None)


# ----------------------------------------------------------------------------- the shipped model


def test_the_shipped_model_loads_and_is_small() -> None:
    model = load_model()
    assert model is not None
    assert model.classes == MODEL_CLASSES == ("simple", "code", "reasoning", "json")
    assert model.temperature > 0
    assert 500 < len(model.weights) < 40_000  # about 1.8 MB of JSON
    assert all(len(w) == 4 for w in model.weights.values())


def test_the_shipped_model_keeps_one_float_object_per_weight_value() -> None:
    """Weights have three decimals: a few thousand values, each held once in memory."""
    model = load_model()
    assert model is not None
    values = [x for w in model.weights.values() for x in w] + list(model.filler.values())
    assert len({id(x) for x in values}) == len(set(values)) < len(values) / 10


def test_fast_scoring_path_equals_scoring_the_feature_list() -> None:
    """``probabilities_of`` (one cached vector per word) must score exactly ``features()``."""
    model = load_model()
    assert model is not None
    for text in ("Is 221 prime?", "pyhton scirpt to rename files", "what's 2+2, and 12 times 14?", "日本の首都は"):
        lower = text.lower()
        fast = model.probabilities_of(tokens(lower), symbols(lower))
        slow = model.probabilities(text_features(lower))
        assert fast.keys() == slow.keys()
        assert all(math.isclose(fast[c], slow[c], rel_tol=1e-9) for c in fast)
        assert math.isclose(sum(fast.values()), 1.0)


def test_profile_scores_are_the_models_probabilities_of_what_says_something() -> None:
    """The scorer reads the focus text without the parts that point at no need on their own
    (``boilerplate``): here the system prompt joins only if it points at a need."""
    model = load_model()
    assert model is not None
    messages: list[MessageInput] = [
        {"role": "system", "content": "You are a careful assistant."},
        {"role": "user", "content": "I have a spreadsheet question."},
        {"role": "assistant", "content": "Go ahead."},
        {"role": "user", "content": "How many ways can 4 people sit in a row?"},
    ]
    system, previous, last = (part.lower() for part in focus_parts(messages))
    context = [p for p in (needful_context(model, system), needful_context(model, previous)) if p]
    read = "\n".join([*context, request_core(model, last)])
    profile = classify_prompt(messages)
    assert dict(profile.scores) == pytest.approx(model.probabilities(text_features(read)))
    whole = model.probabilities(text_features(focus_text(messages).lower()))
    assert dict(profile.scores) != pytest.approx(whole) or len(context) == 2


def test_model_json_round_trips_and_rejects_bad_shapes() -> None:
    model = LearnedModel(("simple", "code"), (0.1, -0.1), {"bug": (0.0, 1.5)}, 2.0, threshold=0.45, veto=0.15)
    again = LearnedModel.from_json(json.loads(json.dumps(model.to_json())))
    assert again.weights == model.weights
    assert (again.temperature, again.threshold, again.veto) == (2.0, 0.45, 0.15)
    # logits: simple 0.1, code -0.1 + 1.5 = 1.4; softmax at temperature 2.
    assert again.probabilities(["bug"])["code"] == pytest.approx(1 / (1 + math.exp(-(1.4 - 0.1) / 2.0)))
    with pytest.raises(ValueError, match="do not match"):
        LearnedModel.from_json({"classes": ["a", "b"], "bias": [0, 0], "weights": {"x": [1.0]}})
    with pytest.raises(ValueError, match="temperature"):
        LearnedModel.from_json({"classes": ["a"], "bias": [0], "weights": {}, "temperature": 0})
    for threshold, veto in ((0.5, 0.5), (1.2, 0.1), (0.6, -0.1)):
        with pytest.raises(ValueError, match="thresholds"):
            LearnedModel.from_json({"classes": ["a"], "bias": [0], "weights": {}, "threshold": threshold, "veto": veto})
    defaults = LearnedModel.from_json({"classes": ["a"], "bias": [0], "weights": {}})
    assert (defaults.threshold, defaults.veto) == (0.6, 0.25)
    assert defaults.filler_alone("kind regards") == 0.0  # no pleasantry detector shipped


def test_the_pleasantry_detector_round_trips_and_scores_by_its_weights() -> None:
    model = LearnedModel(("simple", "code"), (0.0, 0.0), {}, filler={"regards": 3.0, "kind": 1.0}, filler_bias=-2.0)
    again = LearnedModel.from_json(json.loads(json.dumps(model.to_json())))
    assert (dict(again.filler), again.filler_bias) == ({"regards": 3.0, "kind": 1.0}, -2.0)
    # "kind" and "regards" are words of filler_features; -2 + 1 + 3 = 2.
    assert again.filler_alone("kind regards") == pytest.approx(1 / (1 + math.exp(-2.0)))
    assert again.filler_alone("fix the bug") == pytest.approx(1 / (1 + math.exp(2.0)))
    assert "regards" in filler_features("kind regards")
    assert {"thank", "you", "thank you"} <= set(filler_features("thank you"))  # function words count here


def test_the_shipped_threshold_decides_when_the_scorer_adds_a_class(monkeypatch: pytest.MonkeyPatch) -> None:
    shipped = load_model()
    assert shipped is not None
    # A prompt no rule settles and the scorer is not certain of: there the threshold matters.
    candidates = (
        "What comes after Tuesday if today is Sunday?",
        "Which is heavier, a kilo of feathers or a kilo of stones?",
        "How far is it from Paris to Rome?",
        "Is it faster to walk or take the bus for two kilometres?",
    )
    profiles = {t: classify(t) for t in candidates}
    unruled = {t: p for t, p in profiles.items() if all(s.startswith("learned") for s in p.signals)}
    text, reasoning = next((t, r) for t, p in unruled.items() if 0.05 < (r := dict(p.scores)["reasoning"]) < 0.95)
    for threshold, added in ((reasoning - 0.01, True), (min(reasoning + 0.01, 0.99), False)):
        model = LearnedModel(shipped.classes, shipped.bias, shipped.weights, shipped.temperature, threshold, 0.0)
        monkeypatch.setattr(classifier, "load_model", lambda m=model: m)
        assert ("reasoning" in classify(text).classes) is added


def test_a_missing_model_file_leaves_the_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(classifier, "load_model", lambda: None)
    plain = classify("What is the capital of France?")
    assert plain.classes == frozenset({"simple"})
    assert (plain.confidence, plain.runner_up, plain.scores) == (1.0, None, ())
    ruled = classify("Is 221 prime?")
    assert ruled.primary == "reasoning"
    assert ruled.confidence == RULE_CONFIDENCE


def test_load_model_returns_none_for_an_unreadable_file() -> None:
    from muxer_litellm.routing.classify import learned

    class Broken:
        def joinpath(self, *parts: str) -> Broken:
            return self

        def read_text(self, encoding: str) -> str:
            return '{"classes": ["simple"], "bias": [0, 0], "weights": {}}'

    learned.load_model.cache_clear()
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(learned.resources, "files", lambda package: Broken())
            assert learned.load_model() is None
    finally:
        learned.load_model.cache_clear()
    assert learned.load_model() is not None


# ----------------------------------------------------------------------------- features


def test_tokens_fold_numbers_and_split_scripts() -> None:
    assert tokens("is 221 prime? call 555-123-4567 on 2024-03-15 at 9:15") == [
        "is",
        "0",
        "prime",
        "call",
        "0",
        "on",
        "0",
        "at",
        "0",
    ]
    assert tokens("café \u00d7 3 \u00f7 4") == ["café", "0", "0"]  # multiplication/division signs are symbols
    assert tokens("git怎么撤销") == ["git", "怎", "么", "撤", "销"]  # CJK letters one by one


def test_features_skip_function_words_but_keep_their_pairs() -> None:
    feats = features(tokens("how do i reverse a list"), symbols("how do i reverse a list"))
    assert "reverse" in feats
    assert "how" not in feats
    assert "do" not in feats
    assert "i reverse" in feats  # a pair with a content word counts
    assert "how do" not in feats  # two function words do not
    assert anagram_key("reverse") in feats
    assert "~<rev" in feats
    assert "num:0" in feats
    assert "len:2" in feats


def test_swapped_letter_typos_share_the_anagram_key() -> None:
    assert anagram_key("pyhton") == anagram_key("python")
    assert anagram_key("scirpt") == anagram_key("script")
    keys = with_anagrams(CODE_TERMS)
    assert keys[anagram_key("dokcer")] == "docker"
    for word in NO_ANAGRAM:  # "eslint"/"listen", "logarithm"/"algorithm"...
        assert anagram_key(word) not in with_anagrams(frozenset({word}))


# ----------------------------------------------------------------------------- focus text


def test_focus_reads_system_start_previous_end_and_last_turn_head_and_tail() -> None:
    long_last = "A" * FOCUS_HEAD + "M" * 5000 + "Z" * FOCUS_TAIL
    messages: list[MessageInput] = [
        {"role": "system", "content": "S" * (FOCUS_SYSTEM + 50)},
        {"role": "user", "content": "p" * 50 + "P" * FOCUS_PREVIOUS},
        {"role": "assistant", "content": "assistant words are never read"},
        {"role": "tool", "tool_call_id": "1", "content": "tool results are data"},
        {"role": "user", "content": long_last},
    ]
    system, previous, last = focus_parts(messages)  # type: ignore[arg-type]
    assert system == "S" * FOCUS_SYSTEM
    assert previous == "P" * FOCUS_PREVIOUS
    assert last == "A" * FOCUS_HEAD + "\n" + "Z" * FOCUS_TAIL
    assert focus_text(messages) == f"{system}\n{previous}\n{last}"  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- confidence


def test_every_profile_has_a_primary_class_and_a_confidence_in_range() -> None:
    for text in ("hi", "Is 221 prime?", "```\nx = 1\n```", "Respond in JSON: name a colour.", "Plan a trip"):
        profile = classify(text)
        assert profile.primary in profile.classes
        assert 0.0 <= profile.confidence <= 1.0
        if profile.scores:
            assert math.isclose(sum(p for _, p in profile.scores), 1.0)
            assert profile.runner_up in MODEL_CLASSES
            assert profile.runner_up != profile.primary


def test_a_rule_hit_is_at_least_rule_confidence_and_structural_needs_are_certain() -> None:
    assert classify("Traceback (most recent call last):\n  File 'x'").confidence >= RULE_CONFIDENCE
    assert classify("Is 221 prime?").confidence >= RULE_CONFIDENCE
    long = classify("hello", long_context_tokens=1)
    assert (long.primary, long.confidence) == ("long_context", 1.0)
    image: list[MessageInput] = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]
    assert (classify(image).primary, classify(image).confidence) == ("vision", 1.0)


def test_a_plain_prompt_is_simple_with_the_models_probability_as_confidence() -> None:
    profile = classify("What is the capital of France?")
    assert profile.classes == frozenset({"simple"})
    assert profile.primary == "simple"
    assert profile.confidence == pytest.approx(dict(profile.scores)["simple"])
    assert profile.confidence > 0.8


def test_code_and_reasoning_together_keep_both_classes_and_pick_a_primary() -> None:
    profile = classify("Prove that this loop ends:\n```\nwhile x: x -= 1\n```")
    assert {"code", "reasoning"} <= profile.classes
    assert profile.primary in ("code", "reasoning")


# ----------------------------------------------------------------------------- needs told without the usual words


@pytest.mark.parametrize(
    ("text", "signal"),
    [
        ("Is 221 prime?", "maths problem '221 prime'"),
        ("is 97 a prime numbr?", "maths problem '97 a prime'"),
        ("What's the probability of getting at least one six in four rolls of a die?", "probability problem"),
        ("How many ways can 6 people sit around a round table?", "counting problem 'How many ways'"),
        ("If all bloops are razzies, are all bloops lazzies?", "logic puzzle 'If all bloops are'"),
        ("Knights always tell the truth and knaves always lie. Who is who?", "logic puzzle"),
        ("What comes next: 2, 6, 12, 20?", "number sequence 'What comes next'"),
        ("If today is Wednesday, what day will it be in 100 days?", "calendar puzzle"),
        ("If the 1st of March is a Monday, what day is the 1st of June?", "calendar puzzle"),
        ("A is taller than B, C is shorter than B. Who is the tallest?", "ordering puzzle"),
        ("After a 25% price rise a lamp costs 60. What did it cost before?", "percentage problem '25%"),
        ("My pay went up 10% one year and down 10% the next. Am I back where I started?", "percentage problem"),
        ("Luis es más alto que Ana y más bajo que Pedro. ¿Quién es el más alto?", "ordering puzzle"),
        ("What is the angle between the hour and minute hands at 3:15?", "clock puzzle"),
        ("What is 17 times 23?", "arithmetic"),
        ("3 to the power of 7", "arithmetic '3 to the power of 7'"),
        ("what's 2 to the 20th?", "arithmetic '2 to the 20th'"),
        ("what is 12 cubed", "arithmetic '12 cubed'"),
        ("Wie viel ist 3 hoch 9?", "arithmetic '3 hoch 9'"),
        ("Combien font 2 puissance 12 ?", "arithmetic '2 puissance 12'"),
        ("Сколько будет 2 в степени 10?", "arithmetic '2 в степени 10'"),
        ("2の10乗はいくつ\uff1f", "arithmetic '2の10乗'"),
        ("What's 7 to the fourth minus 4 to the seventh?", "arithmetic '7 to the fourth'"),
        ("Quanto fa 3 alla settima?", "arithmetic '3 alla settima'"),
        ("5 üzeri 6 kaç eder?", "arithmetic '5 üzeri 6'"),
        ("2的十次方是多少", "arithmetic '2的十次方'"),
        ("what's 17 x 23?", "arithmetic"),
        ("3^7", "arithmetic '3^7'"),
        ("what is 3.6 / 0.045", "arithmetic"),
        ("Докажи, что корень из 2 — иррациональное число.", "math words 'Докажи'"),
        ("证明根号2是无理数", "math words '证明'"),
        ("What's the integral of x squared from 0 to 3?", "math words 'the integral'"),
        ("Hoeveel is 38 keer 46?", "arithmetic"),
        ("Сколько будет 73 умножить на 48?", "arithmetic"),
        ("23乘以47等于多少", "arithmetic"),
        ("Is 1001 een priemgetal?", "maths problem '1001 een priemgetal'"),
        ("91是质数吗", "maths problem '91是质数'"),
        ("Se lancio una moneta 4 volte, qual è la probabilità di ottenere almeno due teste?", "probability problem"),
        ("Um produto subiu 20% em janeiro e caiu 20% em fevereiro. Voltou ao preço original?", "percentage problem"),
        ("Jeśli dziś jest środa, to jaki dzień tygodnia będzie za 100 dni?", "calendar puzzle"),
        ("How many 4-digit numbers have no repeated digit?", "counting problem 'How many 4-digit'"),
        ("Three friends ate the cake and exactly one of them is lying. Ann: 'Bo did it.'", "logic puzzle"),
        ("I spend half my 80 euros on food, then a quarter of what's left on books. What remains?", "word problem"),
        ("Gasto la mitad en comida y un tercio del resto en ropa. ¿Cuánto me queda?", "word problem"),
        ("The show starts at 7pm: three acts of 40 minutes each, 15-minute breaks. When is it over?", "clock puzzle"),
        ("Anna can paint a fence in 6 hours and Ben in 3 hours. How long if they work together?", "work-rate problem"),
        ("Ali bir işi 10 günde, Veli 15 günde bitiriyor. Birlikte kaç günde bitirirler?", "work-rate problem"),
        ("Roughly how many golf balls would fit in a bus?", "estimation problem"),
        ("What's the greatest common divisor of 1071 and 462?", "math words 'common divisor'"),
        ("Find all integers n with n divisible by 7", "math words 'divisible'"),
        ("I have 5 meetings of 1, 2 and 3 hours and 9 free hours. How should I plan them?", "word problem"),
        ("What's 12% of 250 plus 8% of 75?", "word problem"),
        ("I use 100 g butter, 200 g sugar and 3 eggs. Can I halve it? How much sugar is that?", "word problem"),
    ],
)
def test_reasoning_without_maths_words_is_recognised(text: str, signal: str) -> None:
    profile = classify(text)
    assert "reasoning" in profile.classes
    assert any(s.startswith(signal) for s in profile.signals), profile.signals


@pytest.mark.parametrize(
    "text",
    [
        "Is tea healthier than coffee and cheaper than juice? Which should I drink?",
        "Rather than rice, I'd prefer something other than pasta. Which wine goes with fish?",
        "I have a dentist appointment on Monday, what day should I go to the gym?",
        "Is a 15% or 20% tip normal in the US?",
        "Tip 15% or 20%, which is more usual?",
        "What's 20% off 50 dollars?",
        "What is 3 squared?",
        "what's 10 cubed",
        "The flat is 60 squared metres, is that big for two people?",
        "We're away from May 1 to the 5th, any tips for Lisbon?",
        "Del resto, cosa mi consigli per cena stasera?",
        "5 al cuadrado",
        "Is a 1920x1080 monitor fine for photo editing?",
        "What's 1,000 times 12?",
        "Come up to the 5th floor",
        "Explain what compound interest means in plain words, no numbers please.",
        "Quanto tempo devo cozinhar arroz integral?",
        "Teamwork is an integral part of the job, how do I say that in a cover letter?",
        "Should I eat half the cake now and freeze the rest?",
        "We walk 30 minutes together every day at 7am, any podcast tips?",
        "Our class starts at 9:00 and each lesson is fun. When should I wake up?",
        "What's 250 minus 75 plus 30?",
        "Combien font 120 moins 45 plus 18 ?",
        "My sourdough: 100 g starter, 500 g flour, 350 g water and 10 g salt. Can you help me debug it?",
        "I use 1 cup butter, 1 cup sugar and 2 cups flour. Any tips?",
        "Es para 4 personas con 200 g de arroz y 3 huevos. ¿Puedo usar leche?",
    ],
)
def test_comparisons_easy_numbers_and_explained_concepts_are_no_problem(text: str) -> None:
    signals = classify(text).signals
    problems = ("ordering puzzle", "calendar puzzle", "percentage problem", "arithmetic", "word problem")
    problems += ("clock puzzle", "work-rate", "math words")
    assert not any(s.startswith(problems) for s in signals), signals


@pytest.mark.parametrize(
    ("text", "signal"),
    [
        ("Write a Dockerfile for a Flask app", "programming words 'dockerfile'"),
        ("How do I drop rows with NaN in a pandas DataFrame?", "programming words 'dataframe'"),
        ("group by two columns in pandas and get the mean of a third", None),
        ("Make a React component that shows a counter", "programming words 'react' + 'component'"),
        ("SwiftUI list doesn't refresh", "programming words 'swiftui'"),
        ("Write a GitHub Actions workflow that runs pytest", "programming words 'github'"),
        ('git says "fatal: refusing to merge unrelated histories"', None),
        ("Write a C function that counts set bits", "programming words"),
        ("pyhton scirpt to rename all jpg files", "programming words 'python' + 'script'"),
        ("my dokcer container exits immediately", "programming words 'docker'"),
        ("npm ERR! ERESOLVE unable to resolve dependency tree", "error message"),
        ("Why does user.save() fail?", "code syntax"),
        ("What's in config.yaml?", "code syntax '.yaml'"),
        ("git stash pop gives a conflict", "shell command 'git stash'"),
        ("how do i revrese a linked list", "programming words 'linked list'"),
        ("explain big-o notation", "programming words 'big o'"),
        ("lazy-load images on my site", "programming words 'lazy load'"),
        ("Wie lösche ich in Git einen lokalen Branch?", None),
        ("Comment lire un fichier ligne par ligne en Java ?", "programming words 'en Java'"),
        ("Como faço para remover espaços de uma string em Java?", "programming words 'em Java'"),
        ("Как отсортировать список на Python?", "programming words 'на Python'"),
        ("Jak napisać zapytanie w SQL, które zwraca duplikaty?", "programming words 'w SQL'"),
        (
            "Write a Python function that checks whether a year is a leap year, fast enough for a million calls.",
            "programming words 'Write a Python function'",
        ),
        ("implement a Go method that reads a config file", "programming words 'implement a Go method'"),
        ("파이썬에서 딕셔너리를 값 기준으로 정렬하는 방법은?", "programming words '파이썬'"),
        ("타입스크립트 제네릭이 뭔지 쉽게 설명해 줘", "programming words '타입스크립트'"),
        ("Hur gör jag en enkel loop i Kotlin?", "programming words 'i Kotlin'"),
        ("Jak v PHP načíst soubor po řádcích?", "programming words 'v PHP'"),
    ],
)
def test_code_without_a_language_beside_a_code_noun_is_recognised(text: str, signal: str | None) -> None:
    profile = classify(text)
    assert "code" in profile.classes
    if signal is not None:
        assert any(s.startswith(signal) for s in profile.signals), profile.signals


@pytest.mark.parametrize(
    "text",
    [
        "Could you kindly format this as JSON: name John, age 42.",
        "list 3 fruits and their colours in json format pls",
        "Gib mir die Liste als JSON zurück: Äpfel, Birnen.",
        "Réponds en JSON avec les clés titre et résumé.",
        "Devuélveme el resultado en formato JSON.",
        "JSON形式で出力してください",
        "请用JSON格式返回以下信息",
        "json pls - the 7 wonders of the world",
        "JSON: the three biggest cities in Canada",
        "I'd like your response to be JSON, please.",
        "retrun json with keys name and age",
        "Convierte esta lista de la compra a JSON: leche, huevos, pan.",
        "Pasa estos datos a JSON: Ana, 34 años, Madrid.",
        "次の文から人名を抜き出して、JSONで返してください。田中さんが来た。",
        "이 문장을 JSON으로 정리해 줘: 이름 김민수, 나이 30",
        "Convierte esta lista de la compra en un array JSON de strings: leche, huevos, pan integral.",
        "Wandle diese Einkaufsliste in ein JSON-Array von Objekten mit den Feldern name und menge um.",
        "Transforme cette liste en un tableau JSON : pommes, poires, prunes.",
        "Responde solo con JSON: nombre y edad de tres personajes de Don Quijote.",
        "Antworte bitte nur mit JSON: Nenne drei deutsche Flüsse und ihre Länge.",
        "Make a json list of the Beatles with their instruments.",
    ],
)
def test_polite_indirect_and_non_english_json_requests_are_json(text: str) -> None:
    profile = classify(text)
    assert profile.json_requested
    assert "json" in profile.classes
    assert profile.primary == "json"


@pytest.mark.parametrize(
    "text",
    [
        "What is JSON?",
        "Explain the JSON format to a beginner.",
        "What is the difference between null in JSON and undefined?",
        "I keep my notes in JSON files",
        "Is JSON better than YAML for config files?",
        "Responding in JSON is hard for small models",
    ],
)
def test_questions_and_statements_about_json_are_not_requests(text: str) -> None:
    assert not classify(text).json_requested


@pytest.mark.parametrize(
    "text",
    [
        "pull out the name, email and phone from this and give it back as json: 'Hi, it's Priya, "
        "priya@example.com, 555-0199, call me after 5'",
        "Return JSON only. Fields - name, category. Items - hammer, apple, sofa.",
        "Split this address into street, house number, postcode and city, as JSON: Keizersgracht 123, "
        "1015 CJ Amsterdam",
    ],
)
def test_an_easy_task_asked_in_json_is_json_whatever_the_scorer_guesses(text: str) -> None:
    profile = classify(text)
    assert profile.primary == "json"
    assert profile.classes == {"json", "simple"}
    assert not any(s.startswith("learned") for s in profile.signals), profile.signals


@pytest.mark.parametrize(
    "text",
    [
        "Write a Python function that parses this log line and returns JSON only.",
        "Answer in JSON: what does this SQL return? SELECT name FROM users WHERE id = 3",
        "Respond in JSON. What is 17 * 23 + 4?",
    ],
)
def test_a_ruled_code_or_reasoning_need_still_wins_over_a_json_instruction(text: str) -> None:
    profile = classify(text)
    assert profile.json_requested
    assert profile.primary in ("code", "reasoning")
    assert profile.primary in profile.classes


@pytest.mark.parametrize("text", ["Make a JSON object parser in Rust", "Make a JSON list parser for my app"])
def test_making_a_json_thing_that_is_not_a_list_of_data_is_no_json_instruction(text: str) -> None:
    assert "JSON requested" not in classify(text).signals


def test_a_code_question_mentioning_json_is_code_not_a_json_request() -> None:
    profile = classify("How do I return JSON from a Flask route in Python?")
    assert "code" in profile.classes
    assert not profile.json_requested  # the answer is code, not a JSON document


@pytest.mark.parametrize(
    "text",
    [
        "What is the capital of France?",
        "Planning a week in Java next month, what should I see?",
        "Give me a riddle for my kids' birthday party.",
        "I need proof of address for my bank. Which documents count?",
        "Who is the prime minister of Canada?",
        "What's the probability of rain tomorrow?",
        "Can you compile a list of hiking trails in Colorado?",
        "Write a script for a two-minute wedding toast.",
        "Recommend some puzzle games for my phone.",
        "What is 2+2?",
        "Call me at 555-123-4567",
    ],
)
def test_tricky_negatives_stay_simple(text: str) -> None:
    profile = classify(text)
    assert profile.classes == frozenset({"simple"}), profile.signals


@pytest.mark.parametrize(
    "text",
    ["how long do i microwave a potato, its a big one like 300g", "a web apple pie recipe", "unit testers wanted"],
)
def test_a_code_phrase_counts_only_as_whole_words(text: str) -> None:
    assert not any(s.startswith("programming words") for s in classify(text).signals)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("List three fruits high in vitamin C, as a JSON array of objects with name and amount.", False),
        ("I got a C in maths, which library books could help?", False),
        ("write a C function that reverses a string", True),
        ("my c program crashes on this array", True),
    ],
)
def test_a_one_letter_language_name_counts_only_before_its_code_noun(text: str, code: bool) -> None:
    signals = classify(text).signals
    assert any(s.startswith("programming words 'c' +") for s in signals) is code, signals


@pytest.mark.parametrize(
    "text",
    [
        "Draft a friendly reply to a customer who says their package arrived damaged. We'll send a replacement.",
        "Rewrite this to sound more friendly: 'Your request has been denied.'",
        "pls help me write a msg to customer service my phone bill is wrong for the 3rd month in a row",
        "Write an out-of-office reply for next week, I'm on holiday until Monday the 14th.",
        "Schreib eine kurze Nachricht an mein Team, dass der Server wieder läuft.",
        "Rewrite this sentence to sound less passive-aggressive: 'As I already mentioned in my last two emails...'",
        "Kun je deze zin formeler maken: 'Hoi, even checken of je de offerte al hebt bekeken?'",
        "make this more professional: hey the user report is due friday, can u send ur part",
    ],
)
def test_a_request_to_write_prose_gets_no_learned_code_or_reasoning(text: str) -> None:
    assert asks_for_prose(text.lower())
    assert classify(text).primary == "simple"


@pytest.mark.parametrize(
    "text",
    [
        "write a google apps script that emails me when a sheet cell changes",
        "write a query that finds duplicate emails in a users table",
        "Write a function that formats a reply message for our chat bot",
        "Rewrite this function so it reads the file line by line",
        "Rewrite this function to sound more pythonic",
        "make this function more readable",
    ],
)
def test_code_that_handles_emails_or_messages_is_no_prose_request(text: str) -> None:
    assert not asks_for_prose(text.lower())
    assert classify(text).primary == "code"


def test_a_system_persona_is_not_a_programming_question() -> None:
    messages: list[MessageInput] = [
        {"role": "system", "content": "You are a backend service for our API. Be brief."},
        {"role": "user", "content": "What's the capital of Norway?"},
    ]
    assert classify(messages).classes == frozenset({"simple"})


def test_code_rule_in_an_earlier_turn_counts_for_a_follow_up() -> None:
    messages: list[MessageInput] = [
        {"role": "user", "content": "Write a Python function that checks if a number is prime."},
        {"role": "assistant", "content": "def is_prime(n): ..."},
        {"role": "user", "content": "make it faster for big numbers"},
    ]
    assert "code" in classify(messages).classes


def test_code_rule_in_an_earlier_turn_is_dropped_when_the_conversation_moved_on() -> None:
    messages: list[MessageInput] = [
        {"role": "user", "content": "Write a SQL query to count users by country."},
        {"role": "assistant", "content": "SELECT country, COUNT(*) FROM users GROUP BY country;"},
        {"role": "user", "content": "perfect, thanks a lot! what's a good film for tonight?"},
    ]
    assert "code" not in classify(messages).classes


def test_without_the_scorer_an_earlier_turn_still_counts(rules_only: None) -> None:
    messages: list[MessageInput] = [
        {"role": "user", "content": "Write a SQL query to count users by country."},
        {"role": "assistant", "content": "SELECT ..."},
        {"role": "user", "content": "thanks! what's a good film for tonight?"},
    ]
    assert "code" in classify(messages).classes


def tiny_model(**weights: tuple[float, float, float, float]) -> LearnedModel:
    """A scorer that knows a few made-up words (deterministic, whatever the shipped weights)."""
    return LearnedModel(MODEL_CLASSES, (2.0, 0.0, 0.0, 0.0), dict(weights))


def test_the_scorer_alone_adds_a_class_and_names_its_words(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(classifier, "load_model", lambda: tiny_model(zorblax=(0.0, 6.0, 0.0, 0.0)))
    profile = classify("please zorblax the thing")
    assert profile.classes == frozenset({"code"})
    assert profile.signals == (f"learned code {profile.confidence:.2f} ('zorblax')",)
    assert profile.confidence >= LEARNED_THRESHOLD
    assert profile.runner_up == "simple"


def test_below_the_threshold_the_scorer_adds_nothing_but_lowers_confidence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(classifier, "load_model", lambda: tiny_model(zorblax=(0.0, 2.0, 0.0, 0.0)))
    profile = classify("please zorblax the thing")
    assert profile.classes == frozenset({"simple"})
    assert profile.confidence < 0.7
    assert profile.runner_up == "code"
    assert profile.runner_up_score == pytest.approx(dict(profile.scores)["code"])


def test_an_everyday_name_rule_is_vetoed_when_the_scorer_is_sure_it_is_not_code(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = "I spent a week in Java"
    monkeypatch.setattr(classifier, "load_model", lambda: tiny_model(week=(8.0, -4.0, 0.0, 0.0)))
    assert classify(text).classes == frozenset({"simple"})
    monkeypatch.setattr(classifier, "load_model", lambda: tiny_model(week=(0.0, 2.0, 0.0, 0.0)))
    assert "programming words 'in Java'" in classify(text).signals  # p(code) ~0.4: not sure, the rule counts


# ----------------------------------------------------------------------------- shared state


def test_concurrent_classification_matches_sequential() -> None:
    """The scorer's per-word cache and the feature cache are shared by every request."""
    prompts = [
        "Is 221 prime?",
        "pyhton scirpt to rename files",
        "What is the capital of France?",
        "Could you kindly format this as JSON: a, b",
        "group by two columns in pandas",
        "Wie lösche ich in Git einen Branch?",
    ] * 40
    expected = [classify(p) for p in prompts]
    with ThreadPoolExecutor(max_workers=8) as pool:
        got = list(pool.map(classify, prompts))
    assert got == expected
