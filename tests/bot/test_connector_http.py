"""botbuilder's ConnectorClient over the pooled sender: same request, msrest's safe retries."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestServer
from botbuilder.core import TurnContext
from botbuilder.schema import (
    Activity,
    ActivityImportance,
    ActivityTypes,
    Attachment,
    CardAction,
    ChannelAccount,
    ConversationAccount,
    ConversationReference,
    Entity,
    HeroCard,
    RoleTypes,
    SuggestedActions,
    TextFormatTypes,
)
from botframework.connector.aio import ConnectorClient
from botframework.connector.auth import (
    AppCredentials,
    AuthenticateRequestResult,
    ClaimsIdentity,
    MicrosoftAppCredentials,
)
from botframework.connector.auth._connector_factory_impl import _ConnectorFactoryImpl
from msrest.exceptions import HttpOperationError
from msrest.serialization import Serializer
from msrest.universal_http import ClientRequest

from adapters.channels.connector_http import (
    ConnectorPool,
    JsonPassthroughSerializer,
    PooledConnectorFactory,
    PooledSender,
)
from adapters.channels.connector_json import EncodedJson, read_model, write_model
from bot.teams_auth import GuardedAuthentication


class _Token(AppCredentials):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__(app_id="app-1", oauth_scope="https://api.botframework.com")

    def get_access_token(self, force_refresh: bool = False) -> str:
        return "tok-1"


class _Inner:
    def __init__(self, credentials: Any) -> None:
        self.credentials = credentials

    async def create(self, service_url: str, audience: str | None = None) -> ConnectorClient:
        return ConnectorClient(self.credentials, base_url=service_url)


class Connector:
    """A Bot Connector on loopback answering with whatever `answer` returns."""

    def __init__(self) -> None:
        self.seen: list[tuple[web.Request, bytes]] = []
        self.peers: set[Any] = set()
        self.answer: Callable[[int], web.Response] = lambda n: web.json_response({"id": f"r{n}"})

    async def handle(self, request: web.Request) -> web.Response:
        self.seen.append((request, await request.read()))
        self.peers.add(request.transport.get_extra_info("peername") if request.transport else None)
        return self.answer(len(self.seen))


@pytest_asyncio.fixture
async def connector() -> AsyncIterator[tuple[Connector, str]]:
    stub = Connector()
    app = web.Application()
    app.router.add_post("/{tail:.*}", stub.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield stub, str(server.make_url("/amer/"))
    await server.close()


async def _reply(factory: Any, base: str) -> Any:
    client = await factory.create(base)
    activity = Activity(type="message", text="냉각수 펌프 누유", conversation=None)
    return await client.conversations.reply_to_activity("19:c@thread;messageid=1", "1:a", activity)


def _factory(credentials: Any = None, **kw: Any) -> tuple[PooledConnectorFactory, ConnectorPool]:
    pool = ConnectorPool(PooledSender(timeout=5.0, backoff=0.0, **kw))
    return PooledConnectorFactory(_Inner(credentials or _Token()), pool), pool


Served = tuple[Connector, str]


@pytest.mark.asyncio
async def test_replies_share_one_connection_and_carry_the_bearer_token(connector: Served) -> None:
    stub, base = connector
    factory, pool = _factory()
    first = await _reply(factory, base)
    second = await _reply(factory, base)  # a new ConnectorClient, the same pool
    await pool.aclose()
    assert (first.id, second.id) == ("r1", "r2")
    request, body = stub.seen[0]
    assert request.method == "POST"
    assert request.raw_path == (
        "/amer/v3/conversations/19%3Ac%40thread%3Bmessageid%3D1/activities/1%3Aa"
    )
    assert request.headers["Authorization"] == "Bearer tok-1"
    assert "botframework-connector" in request.headers["User-Agent"]
    assert json.loads(body)["text"] == "냉각수 펌프 누유"
    assert len(stub.peers) == 1  # keep-alive: the second reply reused the first connection


@pytest.mark.asyncio
async def test_anonymous_credentials_send_no_authorization_header(connector: Served) -> None:
    stub, base = connector
    factory, pool = _factory(MicrosoftAppCredentials.empty())
    await _reply(factory, base)
    await pool.aclose()
    assert "Authorization" not in stub.seen[0][0].headers


@pytest.mark.asyncio
async def test_gateway_errors_and_retry_after_are_retried_then_answered(connector: Served) -> None:
    stub, base = connector
    answers = [
        web.Response(status=503, headers={"Retry-After": "0"}),
        web.Response(status=502),
        web.json_response({"id": "ok"}),
    ]
    stub.answer = lambda n: answers.pop(0)
    factory, pool = _factory()
    result = await _reply(factory, base)
    await pool.aclose()
    assert result.id == "ok" and not answers


@pytest.mark.asyncio
async def test_retries_back_off_exponentially_or_as_the_service_asks(connector: Served) -> None:
    stub, base = connector
    answers = [
        web.Response(status=503),
        web.Response(status=502),
        web.Response(status=503, headers={"Retry-After": "2"}),
        web.json_response({"id": "ok"}),
    ]
    stub.answer = lambda n: answers.pop(0)
    pool = ConnectorPool(PooledSender(timeout=5.0, backoff=0.5, retries=3))
    waits: list[float] = []

    async def note(seconds: float) -> None:
        waits.append(seconds)

    pool.sender.sleep = note
    result = await _reply(PooledConnectorFactory(_Inner(_Token()), pool), base)
    await pool.aclose()
    assert result.id == "ok" and not answers
    assert waits == [0.5, 1.0, 2.0]  # 0.5 * 2**n, then the Retry-After


@pytest.mark.asyncio
@pytest.mark.parametrize("status", [400, 403, 429, 500, 501])
async def test_other_errors_are_not_retried_and_reach_botbuilder(
    connector: Served, status: int
) -> None:
    # 500 may mean the reply was posted: sending it again could show it twice.
    stub, base = connector
    stub.answer = lambda n: web.json_response(
        {"error": {"code": "x", "message": "no"}}, status=status
    )
    factory, pool = _factory()
    with pytest.raises(HttpOperationError):
        await _reply(factory, base)
    await pool.aclose()
    assert len(stub.seen) == 1


@pytest.mark.asyncio
async def test_persistent_gateway_error_is_answered_after_the_retries(connector: Served) -> None:
    stub, base = connector
    stub.answer = lambda n: web.Response(status=504)
    factory, pool = _factory(retries=2)
    with pytest.raises(HttpOperationError):
        await _reply(factory, base)
    await pool.aclose()
    assert len(stub.seen) == 3


@pytest.mark.asyncio
async def test_unreachable_connector_is_retried_then_the_error_raised() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    factory, pool = _factory(retries=2)
    with pytest.raises(aiohttp.ClientConnectorError):
        await _reply(factory, f"http://127.0.0.1:{port}/")
    await pool.aclose()


def _card_activity(content: Any) -> Activity:
    return Activity(
        type="message",
        text="펌프",
        attachments=[
            Attachment(content_type="application/vnd.microsoft.card.adaptive", content=content)
        ],
        channel_data={"notification": {"alertInMeeting": False}},
        value={"verb": "vote", "n": [1, 2.5, None, True]},
    )


@pytest.mark.parametrize(
    "content",
    [
        {"type": "AdaptiveCard", "body": [{"type": "TextBlock", "text": "누유", "wrap": True}]},
        HeroCard(title="a model inside an object field", buttons=[CardAction(type="imBack")]),
        [{"nested": [{"deeper": {"k": None}}]}, "x", 3],
    ],
)
def test_passthrough_serializer_writes_the_same_body_as_msrest(content: Any) -> None:
    client = ConnectorClient(_Token(), base_url="https://example.test/")
    deps = client._serialize.dependencies
    plain = Serializer(deps).body(_card_activity(content), "Activity")
    fast = JsonPassthroughSerializer(deps).body(_card_activity(content), "Activity")
    assert isinstance(fast, EncodedJson)
    assert json.dumps(json.loads(fast), sort_keys=True) == json.dumps(plain, sort_keys=True)


def test_an_encoded_body_goes_on_the_wire_unchanged() -> None:
    # msrest's request building keeps a body its JSON encoder refuses: the bytes are what is sent.
    body = JsonPassthroughSerializer({}).body(Activity(type="message", text="누유"), "Activity")
    request = ClientRequest("POST", "https://example.test/v3/conversations/c/activities")
    request.add_content(body)
    assert request.data is body
    assert json.loads(request.data) == {"type": "message", "text": "누유"}


def test_a_body_orjson_refuses_falls_back_to_msrest() -> None:
    deps = ConnectorClient(_Token(), base_url="https://example.test/")._serialize.dependencies
    lone = Activity(type="message", text="\ud800")  # a lone surrogate: orjson refuses it
    body = JsonPassthroughSerializer(deps).body(lone, "Activity")
    assert not isinstance(body, bytes)
    assert body == Serializer(deps).body(lone, "Activity")


def _reference_reply() -> Activity:
    reference = ConversationReference(
        activity_id="1:abc",
        user=ChannelAccount(id="29:u", name="기술자", aad_object_id="aad-1", role=RoleTypes.user),
        bot=ChannelAccount(id="28:bot", name="PMark"),
        conversation=ConversationAccount(
            id="19:c@thread.tacv2;messageid=1",
            conversation_type="channel",
            tenant_id="t1",
            is_group=True,
        ),
        channel_id="msteams",
        locale="ko-KR",
        service_url="https://smba.trafficmanager.net/amer/",
    )
    reply = Activity(
        type=ActivityTypes.message,
        summary="펌프 누유",
        text_format=TextFormatTypes.markdown,
        timestamp=datetime(2026, 12, 6, 3, 4, 5, 678000, tzinfo=UTC),
        attachments=[
            Attachment(
                content_type="application/vnd.microsoft.card.adaptive",
                content={"type": "AdaptiveCard", "version": "1.5"},
            )
        ],
        entities=[Entity(type="mention")],
        suggested_actions=SuggestedActions(
            to=["29:u"], actions=[CardAction(type="imBack", title="예", value="예")]
        ),
        channel_data={"feedbackLoopEnabled": True},
        importance=ActivityImportance.high,
    )
    return TurnContext.apply_conversation_reference(reply, reference)


@pytest.mark.parametrize(
    "activity",
    [
        _reference_reply,
        lambda: Activity(type=ActivityTypes.typing),
        lambda: Activity(type="message", id="1:old", text="✓", value=[1, {"a": None}], speak=""),
    ],
)
def test_whole_activities_serialize_as_msrest_would(activity: Callable[[], Activity]) -> None:
    deps = ConnectorClient(_Token(), base_url="https://example.test/")._serialize.dependencies
    plain = Serializer(deps).body(activity(), "Activity")
    fast = JsonPassthroughSerializer(deps)._model(activity())  # the direct walk, no fallback
    assert json.dumps(fast, sort_keys=True) == json.dumps(plain, sort_keys=True)
    assert fast["type"] in ("message", "typing")


@pytest.mark.asyncio
async def test_factory_clients_use_the_pool_and_the_passthrough_serializer() -> None:
    factory, pool = _factory()
    client = await factory.create("https://example.test/")
    assert isinstance(client.conversations._serialize, JsonPassthroughSerializer)
    assert client.config.pipeline._sender is pool.sender


class _Credentials:
    """A credential factory whose token changes on every call, as a refreshed one would."""

    def __init__(self) -> None:
        self.calls = 0

    async def create_credentials(self, app_id: str, scope: str, login: str, validate: bool) -> Any:
        self.calls += 1
        token = f"tok-{self.calls}"

        class Fresh(AppCredentials):  # type: ignore[misc]
            def get_access_token(self, force_refresh: bool = False) -> str:
                return token

        return Fresh(app_id=app_id, oauth_scope=scope)


@pytest.mark.asyncio
async def test_clients_are_kept_per_service_url_and_sign_with_the_freshest_token(
    connector: Served,
) -> None:
    stub, base = connector
    credentials = _Credentials()
    inner = _ConnectorFactoryImpl("app-1", "scope", "https://login.test", False, credentials)
    pool = ConnectorPool(PooledSender(timeout=5.0))
    first = await PooledConnectorFactory(inner, pool).create(base)
    second = await PooledConnectorFactory(inner, pool).create(base)  # a later activity
    other = await PooledConnectorFactory(inner, pool).create(base + "other/")
    assert second is first and other is not first
    await _reply(PooledConnectorFactory(inner, pool), base)
    await pool.aclose()
    request = stub.seen[0][0]
    assert request.headers["Authorization"] == f"Bearer tok-{credentials.calls}"
    assert "BotBuilder" in request.headers["User-Agent"]  # botbuilder's own factory made it


class _Inbound:
    """botbuilder's authentication, reduced to what GuardedAuthentication passes through."""

    def __init__(self) -> None:
        self.user_token_clients = 0

    async def authenticate_request(self, activity: Any, auth_header: str) -> Any:
        inner = _ConnectorFactoryImpl("", "scope", "https://login.test", False, _Credentials())
        result = AuthenticateRequestResult()
        result.connector_factory = inner
        return result

    async def create_user_token_client(self, claims: Any) -> Any:
        self.user_token_clients += 1
        owner = self

        class Real:
            async def get_token_status(self, *args: Any) -> list[str]:
                return [f"status from client {owner.user_token_clients}"]

        return Real()


@pytest.mark.asyncio
async def test_inbound_activities_get_pooled_clients_and_a_lazy_user_token_client() -> None:
    inbound = _Inbound()
    pool = ConnectorPool(PooledSender(timeout=5.0))
    auth = GuardedAuthentication(inbound, "", None, connectors=pool)  # type: ignore[arg-type]
    result = await auth.authenticate_request(Activity(type="message"), "")
    assert isinstance(result.connector_factory, PooledConnectorFactory)
    lazy = await auth.create_user_token_client(ClaimsIdentity({}, True))
    assert inbound.user_token_clients == 0  # nothing built for a turn that signs nobody in
    assert await lazy.get_token_status("u", "msteams", "") == ["status from client 1"]
    assert await lazy.get_token_status("u", "msteams", "") == ["status from client 1"]
    assert inbound.user_token_clients == 1
    await pool.aclose()


@pytest.mark.asyncio
async def test_replies_go_through_the_proxy_the_environment_names(
    connector: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    stub, base = connector
    proxied: list[str] = []

    async def proxy(request: web.Request) -> web.Response:
        proxied.append(str(request.url))  # a forward proxy sees the absolute URL
        return web.json_response({"id": "via-proxy"})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", proxy)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    monkeypatch.setenv("HTTP_PROXY", str(server.make_url("")))
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    factory, pool = _factory()
    target = base.replace("127.0.0.1", "connector.example.test")
    result = await _reply(factory, target)
    await pool.aclose()
    await server.close()
    assert result.id == "via-proxy" and not stub.seen
    assert proxied and proxied[0].startswith("http://connector.example.test")


def _teams_message() -> dict[str, Any]:
    return {
        "type": "message",
        "id": "1733526000123",
        "timestamp": "2026-12-06T23:00:00.1234567Z",
        "localTimestamp": "2026-12-07T08:00:00.1234567+09:00",
        "serviceUrl": "https://smba.trafficmanager.net/kr/",
        "channelId": "msteams",
        "from": {"id": "29:1abc", "name": "김기술", "aadObjectId": "aad-1"},
        "conversation": {
            "isGroup": True,
            "conversationType": "channel",
            "tenantId": "t1",
            "id": "19:c@thread.tacv2;messageid=1733526000123",
        },
        "recipient": {"id": "28:bot", "name": "PMark"},
        "textFormat": "plain",
        "locale": "ko-KR",
        "text": "<at>PMark</at> 2공장 냉각수 펌프 누유, 긴급",
        "attachments": [{"contentType": "text/html", "content": "<div>…</div>"}],
        "entities": [
            {
                "type": "mention",
                "mentioned": {"id": "28:bot", "name": "PMark"},
                "text": "<at>PMark</at>",
            },
            {"type": "clientInfo", "locale": "ko-KR", "country": "KR", "platform": "Web"},
        ],
        "channelData": {"tenant": {"id": "t1"}, "channel": {"id": "19:c@thread.tacv2"}},
    }


def _card_click() -> dict[str, Any]:
    return {
        "type": "invoke",
        "name": "adaptiveCard/action",
        "id": "f:1",
        "timestamp": "2026-12-06T23:00:01Z",
        "from": {"id": "29:1abc"},
        "conversation": {"id": "a:1", "conversationType": "personal"},
        "recipient": {"id": "28:bot"},
        "replyToId": "1:card",
        "value": {"action": {"type": "Action.Execute", "verb": "vote", "data": {"up": True}}},
        "serviceUrl": "http://127.0.0.1:1/",
        "channelId": "msteams",
        "membersAdded": [{"id": "29:new", "name": None}],
        "unknownField": {"kept": [1, 2]},
    }


@pytest.mark.parametrize(
    "body",
    [
        _teams_message(),
        _card_click(),
        {"type": "conversationUpdate", "membersAdded": [{"id": "28:bot"}], "Text": "case"},
        # What msrest coerces or refuses goes its way: the result (or the error) is msrest's.
        {**_teams_message(), "text": 42},
        {**_teams_message(), "conversation": {"id": "c", "isGroup": "true"}},
        {**_teams_message(), "timestamp": "2026-12-06 23:00"},
        {**_teams_message(), "entities": [None, {"type": "mention"}]},
        {"type": "message", "attachments": "not a list"},
    ],
)
def test_activities_are_read_as_msrest_reads_them(body: dict[str, Any]) -> None:
    try:
        expected: Activity | None = Activity.deserialize(json.loads(json.dumps(body)))
    except Exception as exc:
        with pytest.raises(type(exc)):
            read_model(Activity, json.loads(json.dumps(body)))
        return
    got = read_model(Activity, json.loads(json.dumps(body)))
    assert got == expected
    assert got.serialize() == expected.serialize()


def test_a_plain_activity_is_read_without_msrest(monkeypatch: pytest.MonkeyPatch) -> None:
    # The common case must not fall back (where the time goes); the equality test covers both.
    def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise AssertionError("fell back to msrest")

    monkeypatch.setattr(Activity, "deserialize", refuse)
    activity = read_model(Activity, _teams_message())
    assert activity.from_property.name == "김기술"
    assert activity.entities[0].additional_properties["mentioned"]["id"] == "28:bot"
    assert activity.timestamp.tzinfo is not None


def test_references_are_written_as_msrest_writes_them() -> None:
    reference = TurnContext.get_conversation_reference(read_model(Activity, _teams_message()))
    assert write_model(reference) == reference.serialize()
    assert write_model(reference)["conversation"]["conversationType"] == "channel"
