from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bridge import config as config_module
from bridge.cli import EX_CONFIG
from bridge.errors import ConfigError
from sandbox.stack import to_toml
from tests.conftest import ZD_TOKEN, raw_config
from tests.support import socialdesk


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "socialdesk.toml"
    path.write_text(text)
    return path


GOOD = """
[bridge]
helpdesk = "zendesk"

[zendesk]
url = "https://acme.zendesk.com"
email = "bridge@acme.com"
api_token = "${ZENDESK_API_TOKEN}"
webhook_secret = "${ZENDESK_WEBHOOK_SECRET}"

[[channels]]
name = "acme-facebook"
platform = "facebook"
account_id = "1234567890"
access_token = "${FB_PAGE_TOKEN}"
app_secret = "${META_APP_SECRET}"
verify_token = "${META_VERIFY_TOKEN}"
"""
ENV = {
    "ZENDESK_API_TOKEN": "tok-123",
    "ZENDESK_WEBHOOK_SECRET": "whsec",
    "FB_PAGE_TOKEN": "EAAB-secret",
    "META_APP_SECRET": "appsecret",
    "META_VERIFY_TOKEN": "vt-4f1c9",
}


def test_loads_interpolates_and_defaults(tmp_path: Path) -> None:
    cfg = config_module.load(write(tmp_path, GOOD), env=ENV)
    assert cfg.database_url == f"sqlite:///{tmp_path}/socialdesk.db"  # beside the file, as a relative path is
    assert cfg.queue_url == f"sqlite:///{tmp_path}/socialdesk-queue.db"
    assert cfg.helpdesk_section.secret("api_token") == "tok-123"
    channel = cfg.channels[0]
    assert channel.account_id == "1234567890"
    assert channel.get("api_url") == "https://graph.facebook.com/v21.0"
    assert channel.plain()["access_token"] == "EAAB-secret"


def test_secrets_never_appear_in_repr(tmp_path: Path) -> None:
    cfg = config_module.load(write(tmp_path, GOOD), env=ENV)
    text = repr(cfg) + str(cfg.channels) + str(cfg.helpdesk_section)
    for secret in ENV.values():
        assert secret not in text
    assert "***" in text


@pytest.mark.parametrize(("key", "scheme"), [("database_url", "postgresql+psycopg"), ("queue_url", "redis")])
def test_a_password_with_a_raw_at_sign_is_refused_without_being_shown(key: str, scheme: str) -> None:
    raw = raw_config(**{key: f"{scheme}://sd:DB@PASS_6@127.0.0.1/sd"})
    with pytest.raises(ConfigError) as refused:
        config_module.parse(raw, env={})
    assert f"bridge.{key}" in str(refused.value) and "%40" in str(refused.value) and "PASS_6" not in str(refused.value)
    encoded = raw_config(**{key: f"{scheme}://sd:DB%40PASS_6@127.0.0.1/sd"})
    assert getattr(config_module.parse(encoded, env={}), key).endswith("@127.0.0.1/sd")


def test_the_database_and_redis_passwords_never_appear_in_repr() -> None:
    raw = raw_config(database_url="postgresql+psycopg://sd:DbPassw0rd@db.internal/sd",
                     queue_url="redis://:RedisPassw0rd@cache.internal:6379/0")  # fmt: skip
    text = repr(config_module.parse(raw, env={}))
    assert "Config(" in text and "DbPassw0rd" not in text and "RedisPassw0rd" not in text


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda r: r["zendesk"].pop("email"), "zendesk.email: required"),
        (
            lambda r: r["zendesk"].update(url="acme.zendesk.com"),
            "zendesk.url: 'acme.zendesk.com' is not an http(s) URL",
        ),
        (lambda r: r["zendesk"].pop("api_token"), "zendesk.api_token: required"),
        (lambda r: r["bridge"].update(helpdesk="jira"), "bridge.helpdesk: 'jira' is not one of zendesk, freshdesk"),
        (
            lambda r: r["channels"][0].update(platform="myspace"),
            "channels[acme-facebook].platform: 'myspace' is not one of",
        ),
        (lambda r: r["channels"][0].pop("app_secret"), "channels[acme-facebook].app_secret: required"),
        (lambda r: r["channels"][0].update(account_id=""), "channels[acme-facebook].account_id: required"),
        (lambda r: r["channels"][0].update(name="a b"), "channels[0].name: 'a b' is not a name: use letters"),
        (lambda r: r["channels"].append(dict(r["channels"][0])), "channels[].name: duplicate acme-facebook"),
        (lambda r: r.pop("zendesk"), "[zendesk]: section required"),
        (
            lambda r: r["channels"][0].update(max_reply_parts=0),
            "channels[acme-facebook].max_reply_parts: 0 is not a whole number, 1 or more",
        ),
    ],
)
def test_bad_config_names_the_key(mutate: Callable[[dict[str, Any]], object], message: str) -> None:
    raw = raw_config()
    mutate(raw)
    with pytest.raises(ConfigError) as info:
        config_module.parse(raw, env={})
    assert message in str(info.value)
    assert ZD_TOKEN not in str(info.value)


def test_missing_environment_variable_is_named(tmp_path: Path) -> None:
    env = {k: v for k, v in ENV.items() if k != "FB_PAGE_TOKEN"}
    with pytest.raises(
        ConfigError, match=r"^channels\[acme-facebook\].access_token: environment variable FB_PAGE_TOKEN is not set$"
    ):
        config_module.load(write(tmp_path, GOOD), env=env)


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        config_module.load(tmp_path / "nope.toml", env={})
    with pytest.raises(ConfigError, match="not valid TOML"):
        config_module.load(write(tmp_path, "[bridge\n"), env={})


# -- one declared schema: every section, key and value checked at load ------------------------------------------

SALESFORCE = {"instance_url": "https://acme.my.salesforce.com", "access_token": "sf-token"}
Mutate = Callable[[dict[str, Any]], object]


def bridge(**values: Any) -> Mutate:
    return lambda r: r["bridge"].update(values)


def zendesk(**values: Any) -> Mutate:
    return lambda r: r["zendesk"].update(values)


def channel(**values: Any) -> Mutate:
    return lambda r: r["channels"][0].update(values)


def with_salesforce(**values: Any) -> Mutate:
    return lambda r: r.update(salesforce={**SALESFORCE, **values})


def freshdesk(**values: Any) -> Mutate:
    """The helpdesk Freshdesk, with ``values`` in its section."""
    section = {"url": "https://acme.freshdesk.com", "api_key": "fd-key", "webhook_secret": "fd-secret"}
    return lambda r: r.update(bridge={**r["bridge"], "helpdesk": "freshdesk"}, freshdesk={**section, **values})


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (bridge(retension_days=30), "bridge.retension_days: unknown key (did you mean `retention_days`?)"),
        (bridge(helpdsk="freshdesk"), "bridge.helpdsk: unknown key (did you mean `helpdesk`?)"),
        (with_salesforce(vip_feild="account_type"), "salesforce.vip_feild: unknown key (did you mean `vip_field`?)"),
        (lambda r: r.update(channel=r.pop("channels")), "[[channel]]: unknown section (did you mean `[[channels]]`?)"),
        (lambda r: r.update(salesfroce=SALESFORCE), "[salesfroce]: unknown section (did you mean `[salesforce]`?)"),
        (zendesk(api_tokn="x"), "zendesk.api_tokn: unknown key (did you mean `api_token`?)"),
        (lambda r: r.update(classifier={"kidn": "http"}), "classifier.kidn: unknown key (did you mean `kind`?)"),
        (
            channel(app_secert="x"),
            "channels[acme-facebook].app_secert: unknown key (did you mean `app_secret`?)",
        ),
        (channel(bot_token="x"), "channels[acme-facebook].bot_token: unknown key for platform facebook"),
        (
            lambda r: r.update(helpdesk="freshdesk"),
            "helpdesk: unknown key at the top of the file (did you mean `helpdesk` under [bridge]?)",
        ),
        (
            lambda r: r.update(helpdsk="freshdesk"),
            "helpdsk: unknown key at the top of the file (did you mean `helpdesk` under [bridge]?)",
        ),
        (
            lambda r: r["channels"][0].update(acess_token=r["channels"][0].pop("access_token")),
            "channels[acme-facebook].acess_token: unknown key (did you mean `access_token`?) (and 1 more problem)",
        ),
    ],
)
def test_unknown_and_misspelt_keys_are_refused_with_the_likely_key(mutate: Mutate, message: str) -> None:
    raw = raw_config()
    mutate(raw)
    with pytest.raises(ConfigError) as refused:
        config_module.parse(raw, env={})
    assert str(refused.value) == message


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (bridge(log_level="LOUD"), "bridge.log_level: 'LOUD' is not one of DEBUG, INFO, WARNING"),
        (bridge(log_format="xml"), "bridge.log_format: 'xml' is not one of text, json"),
        (bridge(public_url="bridge.acme.com"), "bridge.public_url: 'bridge.acme.com' is not an http(s) URL"),
        (bridge(lease_seconds="120"), "bridge.lease_seconds: '120' must be a number"),
        (bridge(redispatch_after=0), "bridge.redispatch_after: 0 must be greater than 0"),
        (with_salesforce(on_delete="purge"), "salesforce.on_delete: 'purge' is not one of ignore, tag, suspend"),
        (
            with_salesforce(instance_url="acme.my.salesforce.com"),
            "salesforce.instance_url: 'acme.my.salesforce.com' is not an http(s) URL",
        ),
        (with_salesforce(cache_ttl=-1), "salesforce.cache_ttl: -1 must be greater than or equal to 0"),
        (with_salesforce(retry_seconds="60"), "salesforce.retry_seconds: '60' must be a number"),
        (with_salesforce(sync_every_minutes=1.5), "salesforce.sync_every_minutes: 1.5 must be a whole number"),
        (with_salesforce(write_back="yes"), "salesforce.write_back: 'yes' must be true or false"),
        (with_salesforce(vip_values="Enterprise"), "salesforce.vip_values: 'Enterprise' must be an array"),
        (with_salesforce(usage_threshold=80), "salesforce.usage_threshold: 80 must be less than or equal to 1"),
        (with_salesforce(api_version="59"), "salesforce.api_version: '59' must look like 59.0"),
        (
            with_salesforce(fields={"contacts": ["Email"]}),
            "salesforce.fields.contacts: 'contacts' is not one of contact, account, lead",
        ),
        (channel(timeout="soon"), "channels[acme-facebook].timeout: 'soon' must be a number"),
        (  # two tags in the helpdesk: it never matched, silently
            lambda r: r.update(metrics={"no_answer_tags": ["thanks", "no reply"]}),
            "metrics.no_answer_tags[1]: 'no reply' must match pattern",
        ),
        (channel(private_marker=1), "channels[acme-facebook].private_marker: 1 must be text"),
        (  # it was said only where the connector is built (worker, doctor, setup): serve started with it
            freshdesk(thread_key_field="socialdesk_thread"),
            "freshdesk.thread_key_field: 'socialdesk_thread' is not a Freshdesk custom field name "
            "(did you mean cf_socialdesk_thread?)",
        ),
        (
            freshdesk(thread_key_field="Socialdesk Thread"),
            "freshdesk.thread_key_field: 'Socialdesk Thread' is not a Freshdesk custom field name "
            "(did you mean cf_socialdesk_thread?)",
        ),
        (  # as thread_key_field: the connector refused it only when built, and serve started with it
            freshdesk(custom_fields={"cf_team": "social", "Social Channel": "acme"}),
            "freshdesk.custom_fields.Social Channel: 'Social Channel' is not a Freshdesk custom field name "
            "(did you mean cf_social_channel?)",
        ),
        (  # the keys of the ticket's custom_fields too: Freshdesk refused every new ticket's CRM fields
            lambda r: (freshdesk()(r), with_salesforce(ticket_fields={"account_name": "account"})(r)),
            "salesforce.ticket_fields.account_name: 'account' is not a Freshdesk custom field name "
            "(did you mean cf_account?)",
        ),
        (
            lambda r: (freshdesk()(r), r["bridge"].update(rules_field="Triage")),
            "bridge.rules_field: 'Triage' is not a Freshdesk custom field name (did you mean cf_triage?)",
        ),
        (
            channel(api_url="graph.facebook.com"),
            "channels[acme-facebook].api_url: 'graph.facebook.com' is not an http(s) URL",
        ),
    ],
)
def test_values_are_checked_at_load_not_at_first_use(mutate: Mutate, message: str) -> None:
    raw = raw_config()
    mutate(raw)
    with pytest.raises(ConfigError) as refused:
        config_module.parse(raw, env={})
    assert str(refused.value).startswith(message)
    assert "\n" not in str(refused.value)


def test_the_defaults_read_elsewhere_come_from_the_schema() -> None:
    raw = raw_config()
    raw["salesforce"] = dict(SALESFORCE)
    raw["bridge"]["log_level"] = "debug"
    cfg = config_module.parse(raw, env={})
    assert (cfg.log_level, cfg.log_format, cfg.lease_seconds, cfg.redispatch_after) == ("DEBUG", "text", 120, 60)
    assert cfg.salesforce is not None
    defaults = {
        "on_delete": "ignore",
        "cache_ttl": 3600,
        "retry_seconds": 60,
        "write_back": False,
        "vip_field": "account_type",
    }
    assert {k: cfg.salesforce.get(k) for k in defaults} == defaults
    assert cfg.channels[0].get("private_marker") == "#private"
    raw["bridge"].update(log_format="json", lease_seconds=30)
    cfg = config_module.parse(raw, env={})
    assert (cfg.log_format, cfg.lease_seconds) == ("json", 30)


# -- a value from ${VAR} or under a secret key is never shown ---------------------------------------------------

LEAKED = "tok-LEAKED-9f2c"


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            zendesk(url="${ZENDESK_API_TOKEN}"),
            "zendesk.url: '${ZENDESK_API_TOKEN}' (from the environment) is not an http(s) URL",
        ),
        (
            bridge(log_level="${ZENDESK_API_TOKEN}"),
            "bridge.log_level: '${ZENDESK_API_TOKEN}' (from the environment) is not one of",
        ),
        (
            channel(platform="${ZENDESK_API_TOKEN}"),
            "channels[acme-facebook].platform: '${ZENDESK_API_TOKEN}' (from the environment) is not one of",
        ),
        (
            with_salesforce(instance_url="https://${ZENDESK_API_TOKEN} x"),
            "salesforce.instance_url: 'https://${ZENDESK_API_TOKEN} x' (from the environment)",
        ),
        (
            lambda r: r.update(
                rules=[{"name": "a", "when": {"regex": "${ZENDESK_API_TOKEN}("}, "then": {"tags": ["t"]}}]
            ),
            "rules[a].when.regex: invalid regular expression '${ZENDESK_API_TOKEN}(': missing )",
        ),
        (
            lambda r: r.update(rules=[{"name": "${ZENDESK_API_TOKEN}", "then": {"tags": ["t"]}}]),
            "rules[${ZENDESK_API_TOKEN}].name: required",
        ),
        (
            lambda r: r.update(
                calendars={"support": {"timezone": "${ZENDESK_API_TOKEN}", "hours": ["mon 09:00-17:00"]}}
            ),
            "calendars.support.timezone: '${ZENDESK_API_TOKEN}' is not a known time zone",
        ),
        (channel(verify_token=[LEAKED]), "channels[acme-facebook].verify_token: must be text"),
        (zendesk(webhook_secret=[LEAKED]), "zendesk.webhook_secret: must be text"),
        (bridge(database_url=[LEAKED]), "bridge.database_url: must be text"),
    ],
)
def test_an_interpolated_or_secret_value_is_never_shown(mutate: Mutate, message: str) -> None:
    raw = raw_config()
    mutate(raw)
    with pytest.raises(ConfigError) as refused:
        config_module.parse(raw, env={"ZENDESK_API_TOKEN": LEAKED})
    assert str(refused.value).startswith(message)
    assert LEAKED not in str(refused.value)


#: Secret-looking values in a variable a store URL names: a token pasted into the wrong one (with no ':', the
#: driver quoted it whole: "unsupported 'zd-token-...'"), one with a ':', a password in an unsupported URL.
WRONG_STORE_URLS = [LEAKED, f"sk:{LEAKED}", f"mysql://sd:{LEAKED}@db.internal/sd"]


@pytest.mark.parametrize("value", WRONG_STORE_URLS)
@pytest.mark.parametrize("key", ["database_url", "queue_url"])
def test_a_store_url_of_no_supported_kind_is_refused_at_load_naming_only_its_key(key: str, value: str) -> None:
    raw = raw_config()
    raw["bridge"][key] = "${STORE_URL}"
    with pytest.raises(ConfigError) as refused:
        config_module.parse(raw, env={"STORE_URL": value})
    assert str(refused.value).startswith(f"bridge.{key}: must start with sqlite://")
    assert LEAKED not in str(refused.value)


URL_KEYS: list[tuple[str, Mutate]] = [
    ("bridge.database_url", bridge(database_url="${LEAKY}")),
    ("bridge.queue_url", bridge(queue_url="${LEAKY}")),
    ("bridge.public_url", bridge(public_url="${LEAKY}")),
    ("zendesk.url", zendesk(url="${LEAKY}")),
    ("channels[acme-facebook].api_url", channel(api_url="${LEAKY}")),
    ("salesforce.instance_url", with_salesforce(instance_url="${LEAKY}")),
    ("classifier.url", lambda r: r.update(classifier={"kind": "http", "url": "${LEAKY}"})),
]


@pytest.mark.parametrize(("key", "mutate"), URL_KEYS, ids=[key for key, _ in URL_KEYS])
def test_a_secret_in_the_variable_of_any_url_is_never_printed_by_any_command(
    tmp_path: Path, key: str, mutate: Mutate
) -> None:
    """Before: with queue_url = "${VAR}" holding a token, doctor and worker printed "bridge.queue_url: unsupported
    'zd-token-...'" (bridge.queue), and serve started. Each command stops at load, naming the key."""
    raw = raw_config(database_url=f"sqlite:///{tmp_path}/store.db", queue_url=f"sqlite:///{tmp_path}/queue.db")
    mutate(raw)
    config = write(tmp_path, to_toml(raw))
    for command in (["doctor"], ["worker"], ["serve", "--port", "1"]):
        result = socialdesk(*command, "--config", str(config), env={"LEAKY": LEAKED})
        assert result.returncode == EX_CONFIG, (command, result.stdout, result.stderr)
        assert f"Error: configuration: {key}: " in result.stderr, (command, result.stderr)
        assert LEAKED not in result.stdout + result.stderr, command


# -- channels are named by their name, by their index only when the name is no good -----------------------------


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (channel(account_id=["x"]), "channels[acme-facebook].account_id: "),
        (lambda r: r["channels"][0].pop("platform"), "channels[acme-facebook].platform: required"),
        (
            channel(access_token="${NOT_SET}"),
            "channels[acme-facebook].access_token: environment variable NOT_SET is not set",
        ),
        (lambda r: r["channels"][0].pop("name"), "channels[0].name: required"),
        (channel(name="${NOT_SET}"), "channels[0].name: environment variable NOT_SET is not set"),
        (lambda r: r["channels"].append("acme-x"), "channels[1]: 'acme-x' must be a table"),
    ],
)
def test_channel_errors_name_the_channel(mutate: Mutate, message: str) -> None:
    raw = raw_config()
    mutate(raw)
    with pytest.raises(ConfigError) as refused:
        config_module.parse(raw, env={})
    assert str(refused.value).startswith(message)


def test_several_problems_are_one_line_naming_the_first_and_counting_the_rest() -> None:
    """An unknown key comes first: a misspelt key is the likeliest cause of the rest (one required is then
    missing), and only its line says which key was meant."""
    raw = raw_config()
    raw["bridge"].update(log_level="LOUD", helpdsk="freshdesk")
    raw["zendesk"]["url"] = "acme.zendesk.com"
    with pytest.raises(ConfigError) as refused:
        config_module.parse(raw, env={})
    assert str(refused.value) == "bridge.helpdsk: unknown key (did you mean `helpdesk`?) (and 2 more problems)"


def test_a_folder_given_as_the_config_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot be read"):
        config_module.load(tmp_path, env={})


def test_a_bad_log_level_stops_the_worker_at_start_with_one_line(tmp_path: Path) -> None:
    raw = raw_config(database_url=f"sqlite:///{tmp_path}/store.db", queue_url=f"sqlite:///{tmp_path}/queue.db")
    raw["bridge"]["log_level"] = "verbose"
    path = tmp_path / "socialdesk.toml"
    path.write_text(to_toml(raw))
    result = socialdesk("worker", "--config", str(path))
    assert result.returncode == EX_CONFIG
    assert "bridge.log_level: 'VERBOSE' is not one of DEBUG, INFO" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_sandbox_writes_arrays_and_inline_tables_the_schema_accepts(tmp_path: Path) -> None:
    raw = raw_config()
    raw["salesforce"] = {**SALESFORCE, "vip_values": ["Enterprise"], "ticket_fields": {"account_name": "cf_account"}}
    cfg = config_module.load(write(tmp_path, to_toml(raw)), env={})
    assert cfg.salesforce is not None
    assert (cfg.salesforce.get("vip_values"), cfg.salesforce.get("ticket_fields")) == (
        ["Enterprise"],
        {"account_name": "cf_account"},
    )


@pytest.mark.parametrize("kind", ["zendesk", "freshdesk", "salesforce", *config_module.PLATFORMS])
def test_every_connector_option_is_declared_in_the_schema(kind: str) -> None:
    """A connector keyword the schema does not declare could never be configured: the file would be refused."""
    from bridge.registry import CHANNELS, CRMS, HELPDESKS, load_object

    path = {**HELPDESKS, **CRMS, **CHANNELS}[kind]
    options = set(inspect.signature(load_object(path, kind)).parameters) - {"session", "clock"}
    model = {**config_module.SECTIONS, **config_module.CHANNEL_MODELS}[kind]
    assert options <= set(model.model_fields)


# -- names a rule or the CRM mapping gives must exist: a typo there was accepted and never matched, silently ----------


def rule(when: dict[str, Any]) -> Mutate:
    return lambda r: r.update(rules=[{"name": "r", "when": when, "then": {"tags": ["x"]}}])


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (rule({"channel": "acme-fb"}), "rules[r].when.channel: no channel 'acme-fb' (did you mean acme-facebook?)"),
        (rule({"platform": "facebok"}), "rules[r].when.platform: no platform 'facebok' (did you mean facebook?)"),
        (
            rule({"any": [{"language": ["fr", "french"]}]}),
            "rules[r].when.any[0].language: no language 'french' "
            "(known: ar, de, en, es, fa, fr, hi, it, pt, ru, sl, und)",
        ),
        (
            rule({"not": {"crm": {"acount_type": "Enterprise"}}}),
            "rules[r].when.not.crm.acount_type: unknown CRM field (did you mean account_type?; another Salesforce "
            "field: field:<path>)",
        ),
        (
            with_salesforce(vip_field="acount_type"),
            "salesforce.vip_field: unknown CRM field (did you mean account_type?; "
            "another Salesforce field: field:<path>)",
        ),
        (
            with_salesforce(ticket_fields={"account_name": "1", "owner_nam": "2"}),
            "salesforce.ticket_fields.owner_nam: unknown CRM field (did you mean owner_name?; another Salesforce "
            "field: field:<path>)",
        ),
        (
            with_salesforce(user_fields={"Account.Tier__c": "crm_tier"}),  # a Salesforce field, without field:
            "salesforce.user_fields.Account.Tier__c: unknown CRM field (known: id, object_type, url, matched_by, "
            "name, email, phone, title, owner_name, account_id, account_name, account_type, account_industry, "
            "account_annual_revenue, open_cases, persona_id, also_matched; another Salesforce field: field:<path>)",
        ),
    ],
)
def test_a_name_that_could_never_match_is_refused_naming_the_key(mutate: Mutate, message: str) -> None:
    raw = raw_config()
    mutate(raw)
    with pytest.raises(ConfigError) as refused:
        config_module.parse(raw, env={})
    assert str(refused.value) == message


def test_names_that_exist_are_accepted_case_aside_and_any_language_for_an_operators_classifier() -> None:
    raw = raw_config()
    when = {"channel": "ACME-Facebook", "platform": "X", "language": "und", "crm": {"field:Account.Industry": "Banks"}}
    rule(when)(raw)
    with_salesforce(vip_field="field:Account.Tier__c", ticket_fields={"open_cases": "1"})(raw)
    assert config_module.parse(raw, env={}).rules[0].name == "r"
    rule({"language": "fr-CA"})(raw)
    raw["classifier"] = {"kind": "http", "url": "https://classifier.acme.example/classify"}
    assert config_module.parse(raw, env={}).classifier.kind == "http"


def test_the_crm_fields_rules_may_name_are_the_fields_of_the_salesforce_record() -> None:
    """bridge.ports.CRM_FIELDS (what the checks accept) and the connector's record (what a lookup carries) agree."""
    from dataclasses import fields

    from bridge.ports import CRM_FIELDS
    from connectors.salesforce import CustomerRecord

    assert {f.name for f in fields(CustomerRecord)} - {"fields"} == set(CRM_FIELDS)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            channel(ack={"instant": "Hi", "away": {"default": "Closed", "fr-FR": "Fermé"}}),
            "channels[acme-facebook].ack.away.fr-FR: no language 'fr-FR' (did you mean fr?)",
        ),
        (
            channel(quick={"handoff": "Ok", "answers": [
                {"name": "hours", "keywords": {"default": ["hours"], "french": ["horaires"]}, "text": "9-18"}]}),
            "channels[acme-facebook].quick.answers[hours].keywords.french: no language 'french' "
            "(known: ar, de, en, es, fa, fr, hi, it, pt, ru, sl)",
        ),
        (
            lambda r: r.update(rules=[{"name": "r", "then": {"ack": {"away": {"default": "x", "dee": "y"}}}}]),
            "rules[r].then.ack.away.dee: no language 'dee' (did you mean de?)",
        ),
    ],
)  # fmt: skip
def test_a_text_for_a_language_the_classifier_never_gives_is_refused(mutate: Mutate, message: str) -> None:
    """It was accepted and never sent: the default classifier says fr, never fr-FR or french."""
    raw = raw_config()
    mutate(raw)
    with pytest.raises(ConfigError) as refused:
        config_module.parse(raw, env={})
    assert str(refused.value) == message
    raw["classifier"] = {"kind": "http", "url": "https://classifier.acme.example/classify"}  # its own codes
    assert config_module.parse(raw, env={}).classifier.kind == "http"


def test_a_telegram_secret_token_telegram_would_refuse_is_refused_without_showing_it() -> None:
    """setWebhook takes 1-256 of A-Z, a-z, 0-9, _ and - (core.telegram.org/bots/api#setwebhook): another was
    accepted at start and refused by Telegram at `setup telegram`."""
    raw = raw_config()
    raw["channels"].append({"name": "acme-tg", "platform": "telegram", "bot_token": "1:x",
                            "secret_token": "${TG_SECRET}"})  # fmt: skip
    with pytest.raises(ConfigError) as refused:
        config_module.parse(raw, env={"TG_SECRET": "our bot's s3cret!"})
    assert str(refused.value) == (
        "channels[acme-tg].secret_token: must be 1-256 of A-Z, a-z, 0-9, '_' and '-' (Telegram's rule for a "
        "webhook's secret token)"
    )
    assert config_module.parse(raw, env={"TG_SECRET": "Our_bot-s3cret"}).channels[1].name == "acme-tg"


def test_two_channels_for_one_account_are_refused() -> None:
    """A copied [[channels]] table: the account's webhooks went to one of them, the other's settings unused."""
    raw = raw_config()
    raw["channels"].append({**raw["channels"][0], "name": "acme-fb-copy"})
    with pytest.raises(ConfigError) as refused:
        config_module.parse(raw, env={})
    assert str(refused.value) == (
        "channels[acme-fb-copy].account_id: channels[acme-facebook] already serves this facebook account (one "
        "channel per account)"
    )


@pytest.mark.parametrize("code", ["en-US", "english", "EN_us"])
def test_a_whatsapp_template_language_meta_does_not_list_is_refused(code: str) -> None:
    """Meta's codes: en, en_US, fil, prs_AF (case-sensitive, an underscore); another failed every re-engagement."""
    raw = raw_config()
    raw["channels"].append({"name": "acme-wa", "platform": "whatsapp", "account_id": "106540352242922",
                            "access_token": "t", "app_secret": "s", "verify_token": "v",
                            "reengagement_template": "hello_world", "template_language": code})  # fmt: skip
    with pytest.raises(ConfigError) as refused:
        config_module.parse(raw, env={})
    assert str(refused.value) == (
        f"channels[acme-wa].template_language: {code!r} is not a WhatsApp template language code like en, en_US "
        "or pt_BR"
    )
    raw["channels"][-1]["template_language"] = "pt_BR"
    assert config_module.parse(raw, env={}).channels[-1].name == "acme-wa"


def test_relative_paths_are_read_from_the_files_folder_not_the_current_one(tmp_path: Path) -> None:
    """As alembic's %(here)s: `status` started elsewhere read a new empty store beside it (the trial's done=2 store
    was "inbox empty"). Absolute paths, other backends and a document in memory are left as written."""
    raw = raw_config(database_url="sqlite:///data/store.db?timeout=5", queue_url="sqlite:///queue.db")
    raw["salesforce"] = {"instance_url": "https://acme.my.salesforce.com", "username": "u", "consumer_key": "k",
                         "private_key_file": "keys/sf.key"}  # fmt: skip
    (tmp_path / "app").mkdir()
    cfg = config_module.load(write(tmp_path / "app", to_toml(raw)), env={})
    here = tmp_path / "app"
    assert (cfg.database_url, cfg.queue_url) == (
        f"sqlite:///{here}/data/store.db?timeout=5",
        f"sqlite:///{here}/queue.db",
    )
    assert cfg.bridge["database_url"] == cfg.database_url and cfg.bridge["queue_url"] == cfg.queue_url
    assert cfg.salesforce is not None and cfg.salesforce.get("private_key_file") == f"{here}/keys/sf.key"
    assert config_module.parse(raw, env={}).database_url == "sqlite:///data/store.db?timeout=5"


@pytest.mark.parametrize(
    "url",
    ["sqlite:////srv/sd/store.db", "sqlite://", "sqlite:///:memory:", "sqlite:///file:store.db?mode=ro&uri=true",
     "postgresql+psycopg://bridge:pw@db/sd", "redis://:pw@redis:6379/0"],
)  # fmt: skip
def test_urls_without_a_relative_file_are_left_as_written(url: str) -> None:
    assert config_module.sqlite_from(url, Path("/etc/socialdesk")) == url
