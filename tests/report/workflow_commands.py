"""A reader of workflow commands that follows the GitHub Actions runner's parser.

It mirrors `ActionCommand.TryParseV2` and `ActionCommand.TryParse` in actions/runner
(src/Runner.Common/ActionCommand.cs) and the stop-commands handling of
`ActionCommandManager.TryProcessCommand` (src/Runner.Worker/ActionCommandManager.cs).
So tests see a log the way the runner does: `::name k=v,...::data` at the start of a
line (after leading spaces), and the older `##[name k=v;...]data` anywhere in a line.
"""

from __future__ import annotations

from dataclasses import dataclass, field

REGISTERED = {
    "error",
    "warning",
    "notice",
    "debug",
    "add-mask",
    "set-output",
    "set-env",
    "save-state",
    "add-path",
    "add-matcher",
    "remove-matcher",
    "echo",
    "group",
    "endgroup",
    "stop-commands",
}

_PROPERTY_ESCAPES = [("%0D", "\r"), ("%0A", "\n"), ("%3A", ":"), ("%2C", ","), ("%25", "%")]
_DATA_ESCAPES = [("%0D", "\r"), ("%0A", "\n"), ("%25", "%")]
_V1_ESCAPES = [("%3B", ";"), ("%0D", "\r"), ("%0A", "\n"), ("%5D", "]"), ("%25", "%")]


@dataclass
class Command:
    name: str
    properties: dict[str, str] = field(default_factory=dict)
    data: str = ""


def _unescape(text: str, table: list[tuple[str, str]]) -> str:
    for escaped, raw in table:
        text = text.replace(escaped, raw)
    return text


def parse_v2(line: str, registered: set[str]) -> Command | None:
    message = line.lstrip()
    if not message.startswith("::"):
        return None
    end = message.find("::", 2)
    if end < 0:
        return None
    info = message[2:end]
    space = info.find(" ")
    name = info if space < 0 else info[:space]
    if name not in registered:
        return None
    command = Command(name)
    if space > 0:
        for item in info[space + 1 :].strip().split(","):
            pair = [part for part in item.split("=", 1) if part]
            if len(pair) == 2:
                command.properties[pair[0]] = _unescape(pair[1], _PROPERTY_ESCAPES)
    command.data = _unescape(message[end + 2 :], _DATA_ESCAPES)
    return command


def parse_v1(line: str, registered: set[str]) -> Command | None:
    start = line.find("##[")
    if start < 0:
        return None
    close = line.find("]", start)
    if close < 0:
        return None
    info = line[start + 3 : close]
    space = info.find(" ")
    name = info if space < 0 else info[:space]
    if name not in registered:
        return None
    command = Command(name)
    if space > 0:
        for item in info[space + 1 :].split(";"):
            pair = [part for part in item.split("=", 1) if part]
            if len(pair) == 2:
                command.properties[pair[0]] = _unescape(pair[1], _V1_ESCAPES)
    command.data = _unescape(line[close + 1 :], _V1_ESCAPES)
    return command


def read_log(output: str) -> list[Command]:
    """Return the commands the runner would act on in `output`, stop-commands included."""
    registered = set(REGISTERED)
    stop_token: str | None = None
    commands: list[Command] = []
    # The runner reads the step's output line by line, splitting on LF and CR LF.
    for line in output.replace("\r\n", "\n").split("\n"):
        command = parse_v2(line, registered) or parse_v1(line, registered)
        if command is None:
            continue
        if stop_token is not None:
            if command.name == stop_token:
                registered.discard(stop_token)
                stop_token = None
                commands.append(command)
            continue
        if command.name == "stop-commands":
            stop_token = command.data
            registered.add(stop_token)
        commands.append(command)
    return commands
