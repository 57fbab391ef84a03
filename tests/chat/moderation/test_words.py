"""The sensitive-word filter: thousands of words from admin, matched after NFKC
and case folding, blocking or masking users' chats and the assistant's replies;
the list is read again only when its version moves."""

import random

import pytest

from django.db.models import F

from chat import services, words
from chat.exceptions import ContentBlocked
from chat.models import (
    ChatMessage,
    ModerationLog,
    Room,
    RoomType,
    SensitiveWord,
    WordListVersion,
)
from chat.services import ChatDraft

pytestmark = pytest.mark.django_db

CJK = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]


def many_words(n: int, seed: int = 13) -> list[str]:
    """`n` distinct two-to-four character Chinese words (none in the texts below)."""
    rng = random.Random(seed)
    found: set[str] = set()
    while len(found) < n:
        found.add("".join(rng.choice(CJK) for _ in range(rng.randint(2, 4))))
    return sorted(found)


@pytest.fixture
def room():
    return Room.objects.create(room_id="c-words", room_type=RoomType.CULTURAL_CIRCLE)


@pytest.fixture
def word_list(moderator):
    """3,000 mask words, 2,000 block words, and a few in odd forms."""
    pool = many_words(5000)
    items = [(w, "mask") for w in pool[:3000]] + [(w, "block") for w in pool[3000:]]
    items += [
        ("剧透", "mask"),
        ("SPOILER", "block"),  # matched in any case and width
        ("ｶﾀｶﾅ", "block"),  # half-width katakana: NFKC makes it カタカナ
        ("１２３４５", "mask"),  # full-width digits: NFKC makes them 12345
        ("Straße", "mask"),  # case folding: STRASSE, strasse
    ]
    added = services.words_add(items=items, actor=moderator)
    assert added == len(items)
    return pool


def store(room, user, text: str):
    draft = ChatDraft(room_pk=room.pk, room_id=room.room_id, user=user, text=text)
    return services.messages_create([draft])[0]


@pytest.mark.parametrize(
    "text",
    [
        "big spoiler here",
        "ＢＩＧ ＳＰＯＩＬＥＲ",  # full-width Latin
        "SpOiLeR",
        "カタカナ",  # the full-width form of a half-width word
        "ｶﾀｶﾅ!",
    ],
)
def test_block_words_match_any_width_and_case(word_list, room, alice, text):
    assert isinstance(store(room, alice, text), ContentBlocked)
    assert not ChatMessage.objects.exists()


@pytest.mark.parametrize(
    "text, stored",
    [
        ("别剧透了", "别＊＊了"),
        ("验证码 12345 和 １２３４５", "验证码 ＊＊＊＊＊ 和 ＊＊＊＊＊"),
        ("STRASSE und strasse", "＊＊＊＊＊＊＊ und ＊＊＊＊＊＊＊"),
        ("ｓｔｒａßｅ", "＊＊＊＊＊＊"),  # one ＊ per character written
        ("平安无事", "平安无事"),
    ],
)
def test_mask_words_are_stored_and_sent_as_stars(word_list, room, alice, text, stored):
    data, created = store(room, alice, text)
    assert created and data["message"] == stored
    assert ChatMessage.objects.get().message == stored


def test_thousands_of_words_each_match(word_list, room, alice):
    """Every word of the list is found inside other text."""
    for word in word_list[2990:3010]:
        outcome = store(room, alice, f"前{word}后")
        if word in word_list[:3000]:
            assert outcome[0]["message"] == "前" + "＊" * len(word) + "后"
        else:
            assert isinstance(outcome, ContentBlocked)


def test_a_block_word_wins_over_a_mask_word(word_list, room, alice):
    assert isinstance(store(room, alice, "剧透 spoiler"), ContentBlocked)


def test_the_assistants_replies_are_filtered_too(word_list, room):
    masked = services.assistant_message_create(
        room=room, text="答案：别剧透", reply_to="000000000001-1"
    )
    assert masked["message"] == "答案：别＊＊"
    with pytest.raises(ContentBlocked):
        services.assistant_message_create(
            room=room, text="this is a SPOILER", reply_to="000000000001-1"
        )
    assert list(ChatMessage.objects.values_list("message", flat=True)) == [
        "答案：别＊＊"
    ]


def test_no_query_per_message_while_the_list_is_unchanged(
    word_list, settings, django_assert_num_queries
):
    settings.CHAT_WORDS_CHECK_SECONDS = 60
    words.screen("warm up")
    with django_assert_num_queries(0):
        for _ in range(100):
            assert words.screen("别剧透").masked


def test_a_change_on_another_process_applies_after_the_version_moves(
    word_list, settings, django_assert_num_queries
):
    """Another process's change: rows and version written without this process
    being told. It is seen once the check interval passed, not before."""
    settings.CHAT_WORDS_CHECK_SECONDS = 60
    assert not words.screen("新词").blocked
    SensitiveWord.objects.create(word="新词", normalized="新词", action="block")
    WordListVersion.objects.filter(pk=1).update(version=F("version") + 1)
    assert not words.screen("新词").blocked  # within the interval: cached
    settings.CHAT_WORDS_CHECK_SECONDS = 0
    with django_assert_num_queries(2):  # the version, then the list
        assert words.screen("新词").blocked
    with django_assert_num_queries(1):  # the version only: unchanged
        assert words.screen("新词").blocked


def test_words_added_and_deleted_in_admin_apply_at_once_and_are_logged(
    settings, admin_web, room, alice
):
    settings.CHAT_WORDS_CHECK_SECONDS = 60
    assert store(room, alice, "今天天气")[1] is True

    response = admin_web.post(
        "/admin/chat/sensitiveword/add/",
        {"word": "  天气 ", "action": "mask", "note": "test", "_save": "1"},
    )

    assert response.status_code == 302, response.content[:2000]
    word = SensitiveWord.objects.get()
    assert (word.word, word.normalized) == ("天气", "天气")
    assert store(room, alice, "今天天气")[0]["message"] == "今天＊＊"
    response = admin_web.post(
        f"/admin/chat/sensitiveword/{word.pk}/delete/", {"post": "yes"}
    )
    assert response.status_code == 302
    assert store(room, alice, "今天天气")[0]["message"] == "今天天气"
    assert list(
        ModerationLog.objects.order_by("pk").values_list("action", flat=True)
    ) == [
        "word_add",
        "word_delete",
    ]


def test_a_word_listed_twice_in_any_form_is_refused(admin_web, moderator):
    services.words_add(items=[("ＡＢＣ", "block")], actor=moderator)
    response = admin_web.post(
        "/admin/chat/sensitiveword/add/", {"word": "abc", "action": "mask"}
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    assert SensitiveWord.objects.count() == 1
