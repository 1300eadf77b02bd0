"""The Prometheus rules, their unit tests, the runbook and the Alertmanager configuration.

promtool and amtool come with Debian's prometheus and prometheus-alertmanager packages, which
`make test` installs when missing: without them these tests fail rather than skip.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
PROMETHEUS = ROOT / "deploy" / "prometheus"
ALERTMANAGER_CONFIG = ROOT / "deploy" / "alertmanager" / "alertmanager.yml"
RULE_TESTS = sorted((ROOT / "tests" / "rules").glob("*.yml"))
RUNBOOK = ROOT / "docs" / "runbook.md"
ALERTS_TEXT = (PROMETHEUS / "alerts.yml").read_text(encoding="utf-8")
ALERTS = [
    "CentionExporterDown",
    "CentionLogioDown",
    "CentionLogioAuthFailing",
    "CentionDataStale",
    "CentionNoAgentsLoggedIn",
    "CentionStaffingLow",
    "CentionAgentSessionTooLong",
    "CentionSessionAnomaliesRising",
]
RECORDING_RULES = [
    "workspace:cention_session_anomalies:increase1h",
    "workspace:cention_logio_records:increase1h",
]


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def rules(file: str) -> list[dict[str, Any]]:
    """Every rule of deploy/prometheus/``file``, in order."""
    return [rule for group in load_yaml(PROMETHEUS / file)["groups"] for rule in group["rules"]]


def alert_rules() -> dict[str, dict[str, Any]]:
    return {rule["alert"]: rule for rule in rules("alerts.yml")}


def runbook_address(text: str = ALERTS_TEXT) -> str:
    """The runbook's address, set once on the EDIT line in the header of alerts.yml."""
    (address,) = re.findall(r"^#   EDIT runbook address: (\S+)$", text, flags=re.MULTILINE)
    return str(address)


def header_commands(text: str = ALERTS_TEXT) -> str:
    """The shell commands the header of alerts.yml gives to change the runbook's address."""
    header = text.partition("\ngroups:")[0]
    (sed,) = re.findall(r"^#   (sed -i .*\\\n#     .*)$", header, flags=re.MULTILINE)
    (build,) = re.findall(r"^#   (python deploy/kubernetes/\S+)$", header, flags=re.MULTILINE)
    return sed.replace("\\\n#     ", "") + "\n" + build + "\n"


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading: lower case, punctuation dropped, - for space."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def runbook_anchors() -> list[str]:
    text = RUNBOOK.read_text(encoding="utf-8")
    return [github_anchor(h) for h in re.findall(r"^#{1,6} (.+)$", text, flags=re.MULTILINE)]


def unit_test_cases() -> list[tuple[str, bool]]:
    """(alert name, whether it is expected to fire) of every alert_rule_test in tests/rules."""
    return [
        (case["alertname"], bool(case["exp_alerts"]))
        for path in RULE_TESTS
        for test in load_yaml(path)["tests"]
        for case in test.get("alert_rule_test", [])
    ]


def tool(name: str) -> str:
    path = shutil.which(name)
    assert path is not None, (
        f"{name} is not installed (Debian: prometheus, prometheus-alertmanager)"
    )
    return path


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)


@pytest.fixture(name="promtool")
def _promtool() -> str:
    return tool("promtool")


@pytest.fixture(name="amtool")
def _amtool() -> str:
    return tool("amtool")


class TestPrometheusConfig:
    """deploy/prometheus/prometheus.yml."""

    def test_promtool_check_config_succeeds(self, promtool):
        """promtool accepts the configuration and both rule files it loads."""
        result = run(promtool, "check", "config", "deploy/prometheus/prometheus.yml")
        assert (result.returncode, result.stderr) == (0, ""), result.stdout
        assert "  SUCCESS: 2 rule files found" in result.stdout.splitlines()

    def test_loads_the_rules_and_alerts(self):
        """The recording rules load before the alerts that read them."""
        assert load_yaml(PROMETHEUS / "prometheus.yml")["rule_files"] == ["rules.yml", "alerts.yml"]

    def test_exporter_down_alert_names_the_scrape_job(self):
        """CentionExporterDown watches `up` of the very job that scrapes the exporter."""
        (job,) = load_yaml(PROMETHEUS / "prometheus.yml")["scrape_configs"]
        assert (job["job_name"], job["static_configs"]) == (
            "cention-logio",
            [{"targets": ["exporter:9863"]}],
        )
        assert alert_rules()["CentionExporterDown"]["expr"] == 'up{job="cention-logio"} == 0'


class TestRuleFiles:
    """deploy/prometheus/alerts.yml and rules.yml."""

    def test_promtool_check_rules_succeeds(self, promtool):
        """promtool counts 8 alerts and 2 recording rules."""
        result = run(
            promtool,
            "check",
            "rules",
            "deploy/prometheus/alerts.yml",
            "deploy/prometheus/rules.yml",
        )
        assert (result.returncode, result.stderr) == (0, ""), result.stdout
        successes = [line for line in result.stdout.splitlines() if "SUCCESS" in line]
        assert successes == ["  SUCCESS: 8 rules found", "  SUCCESS: 2 rules found"]

    def test_alerts_file_holds_exactly_the_alerts(self):
        """alerts.yml has the eight alerts and no recording rules."""
        assert [rule.get("alert") for rule in rules("alerts.yml")] == ALERTS

    def test_recording_rules_follow_the_naming_convention(self):
        """rules.yml has only recording rules, named level:metric:operations."""
        names = [rule.get("record") for rule in rules("rules.yml")]
        assert names == RECORDING_RULES
        assert [n for n in names if not re.fullmatch(r"[a-z_]+:[a-z_]+:[a-z0-9_]+", n)] == []

    @pytest.mark.parametrize("name", ALERTS)
    def test_alert_has_severity_and_annotations(self, name):
        """Each alert has a known severity, a summary, a description and a runbook URL."""
        rule = alert_rules()[name]
        assert sorted(rule["labels"]) == ["severity"]
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}
        assert sorted(rule["annotations"]) == ["description", "runbook_url", "summary"]
        assert rule["annotations"]["summary"].strip() != ""
        assert rule["annotations"]["description"].strip() != ""

    @pytest.mark.parametrize("name", ALERTS)
    def test_runbook_url_points_at_the_alerts_section(self, name):
        """The runbook URL is the alert's own section of docs/runbook.md, which exists."""
        url = alert_rules()[name]["annotations"]["runbook_url"]
        assert url == f"{runbook_address()}#{name.lower()}"
        assert name.lower() in runbook_anchors()

    def test_runbook_address_is_written_only_where_the_header_says(self):
        """The address stands on its EDIT line, in the sed command and in each runbook_url."""
        address = runbook_address()
        assert ALERTS_TEXT.count(address) == 2 + len(ALERTS)
        assert f"sed -i 's|{address}|NEW_ADDRESS|'" in ALERTS_TEXT
        urls = re.findall(r"runbook_url: (\S+)", ALERTS_TEXT)
        assert urls == [f"{address}#{name.lower()}" for name in ALERTS]

    def test_header_commands_move_every_link_to_a_new_address(self, tmp_path, promtool):
        """The header's commands, run as written, move every link; the rule tests still pass."""
        for name in ("deploy/prometheus", "deploy/kubernetes", "tests/rules"):
            shutil.copytree(ROOT / name, tmp_path / name)
        new = "https://wiki.example.org/sre/cention-runbook"
        script = header_commands().replace("NEW_ADDRESS", new)
        result = subprocess.run(
            ["bash", "-euc", script.replace("python deploy/", f"{sys.executable} deploy/")],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        moved = (tmp_path / "deploy/prometheus/alerts.yml").read_text(encoding="utf-8")
        assert runbook_address(moved) == new
        assert re.findall(r"runbook_url: (\S+)", moved) == [
            f"{new}#{name.lower()}" for name in ALERTS
        ]
        assert runbook_address() not in moved
        linked = [ROOT / "deploy/kubernetes/prometheusrule.yaml", *RULE_TESTS]
        for path in [p for p in linked if runbook_address() in p.read_text(encoding="utf-8")]:
            text = (tmp_path / path.relative_to(ROOT)).read_text(encoding="utf-8")
            assert (runbook_address() in text, f"{new}#" in text) == (False, True), path
        files = [str(path.relative_to(ROOT)) for path in RULE_TESTS]
        tested = subprocess.run(
            [promtool, "test", "rules", *files], cwd=tmp_path, capture_output=True, timeout=300
        )
        assert tested.returncode == 0, tested.stdout

    def test_severities(self):
        """Outages and an unstaffed center are critical; the rest warn or inform."""
        severities = {name: rule["labels"]["severity"] for name, rule in alert_rules().items()}
        assert severities == {
            "CentionExporterDown": "critical",
            "CentionLogioDown": "critical",
            "CentionLogioAuthFailing": "critical",
            "CentionDataStale": "warning",
            "CentionNoAgentsLoggedIn": "critical",
            "CentionStaffingLow": "warning",
            "CentionAgentSessionTooLong": "info",
            "CentionSessionAnomaliesRising": "warning",
        }


class TestRuleUnitTests:
    """The promtool unit tests in tests/rules/."""

    def test_promtool_test_rules_succeeds(self, promtool):
        """Every unit test in tests/rules/*.yml passes."""
        files = [str(path.relative_to(ROOT)) for path in RULE_TESTS]
        assert files == [
            "tests/rules/contact_center_alerts.yml",
            "tests/rules/exporter_alerts.yml",
            "tests/rules/recording_rules.yml",
        ]
        result = run(promtool, "test", "rules", *files)
        assert (result.returncode, result.stderr) == (0, ""), result.stdout
        assert result.stdout.count("  SUCCESS") == 3

    def test_every_alert_is_tested_firing(self):
        """For every alert, some unit test expects it to fire."""
        assert sorted({name for name, fires in unit_test_cases() if fires}) == sorted(ALERTS)

    def test_every_alert_is_tested_quiet(self):
        """For every alert, some unit test expects it to stay quiet."""
        assert sorted({name for name, fires in unit_test_cases() if not fires}) == sorted(ALERTS)

    def test_every_recording_rule_is_tested(self):
        """Every recording rule is the expression of some promql_expr_test."""
        tested = {
            case["expr"]
            for path in RULE_TESTS
            for test in load_yaml(path)["tests"]
            for case in test.get("promql_expr_test", [])
        }
        assert sorted(tested & set(RECORDING_RULES)) == sorted(RECORDING_RULES)


class TestRunbook:
    """docs/runbook.md."""

    def test_one_section_per_alert(self):
        """The second-level sections are the settings section and one per alert, in order."""
        text = RUNBOOK.read_text(encoding="utf-8")
        sections = re.findall(r"^## (.+)$", text, flags=re.MULTILINE)
        assert sections == ["Business hours and the staffing minimum", *ALERTS]

    def test_links_within_the_runbook_resolve(self):
        """Every #anchor link in the runbook names one of its headings."""
        text = RUNBOOK.read_text(encoding="utf-8")
        links = set(re.findall(r"\]\(#([^)]+)\)", text))
        assert links == {
            "business-hours-and-the-staffing-minimum",
            "centionlogioauthfailing",
            "centionlogiodown",
            "centionnoagentsloggedin",
        }
        assert links <= set(runbook_anchors())

    def test_github_anchor(self):
        """Headings become GitHub's anchors: lower case, punctuation dropped, spaces hyphenated."""
        assert github_anchor("Business hours, and the (staffing) minimum") == (
            "business-hours-and-the-staffing-minimum"
        )


class TestAlertmanagerConfig:
    """deploy/alertmanager/alertmanager.yml."""

    def test_amtool_check_config_succeeds(self, amtool):
        """amtool accepts the configuration: one receiver, three inhibit rules."""
        result = run(amtool, "check-config", "deploy/alertmanager/alertmanager.yml")
        assert (result.returncode, result.stderr) == (0, ""), result.stdout
        assert " - 3 inhibit rules" in result.stdout.splitlines()
        assert " - 1 receivers" in result.stdout.splitlines()

    def test_inhibit_rules_name_existing_alerts(self):
        """Every alert name in an inhibit rule is an alert of alerts.yml."""
        matchers = [
            matcher
            for rule in load_yaml(ALERTMANAGER_CONFIG)["inhibit_rules"]
            for matcher in rule["source_matchers"] + rule["target_matchers"]
        ]
        patterns = [re.fullmatch(r'alertname=~?"([\w|]+)"', m) for m in matchers]
        assert None not in patterns
        named = {name for match in patterns if match for name in match[1].split("|")}
        assert sorted(named) == [
            "CentionAgentSessionTooLong",
            "CentionDataStale",
            "CentionLogioAuthFailing",
            "CentionLogioDown",
            "CentionNoAgentsLoggedIn",
            "CentionStaffingLow",
        ]

    def test_routes_everything_to_one_receiver(self):
        """Alerts go to the `cention` receiver, grouped by alert and workspace."""
        config = load_yaml(ALERTMANAGER_CONFIG)
        assert config["route"]["receiver"] == "cention"
        assert config["route"]["group_by"] == ["alertname", "workspace"]
        assert config["receivers"] == [{"name": "cention"}]
