"""Where and how a person acted in Slack (an Interaction), and the words every answer to them uses."""

import re
from dataclasses import dataclass

from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.surface import Origin

PLATFORM = "slack"
COMMANDS = ("convene", "status", "due", "report", "help")

UNKNOWN_PERSON = (
    "Sorry, I do not know you yet, so I cannot show or change strategy discussions for you. "
    "Please ask your duty manager or the bot's administrator to add you to the directory; "
    "it takes a minute."
)
GUEST = "Sorry, guest accounts cannot take part in strategy discussions through Slack."
FAILED = "Sorry, something went wrong and nothing was changed. Please try again in a moment."
SAVED = "Your change was saved, but I could not show you my answer. Use *status* to see where things stand."
WORKING = "Working on it…"


@dataclass(frozen=True)
class Interaction:
    """Where and how a person acted, so that answers go back the way they came."""

    client: AsyncWebClient
    user: str
    team: str | None = None
    channel: str | None = None
    thread_ts: str | None = None
    trigger_id: str | None = None
    response_url: str | None = None
    view_id: str | None = None  # set when they acted inside a modal
    depth: int = 0  # how many modals are stacked (Slack allows 3)
    link: str | None = None  # the message a discussion is started from

    @property
    def origin(self) -> Origin:
        return Origin(team=self.team, channel=self.channel, link=self.link)


def reply_text(text: str) -> str:
    """A Slack message's text as plain text: links and mentions unwrapped, entities decoded."""
    text = re.sub(r"<(https?://[^|>]+)\|([^>]+)>", r"\2 (\1)", text or "")
    text = re.sub(r"<(https?://[^>]+)>", r"\1", text)
    text = re.sub(r"<[@#!]([^|>]+)(?:\|([^>]+))?>", lambda m: "@" + (m.group(2) or m.group(1)), text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def parse_command(text: str) -> tuple[str, str]:
    """`convene ABC123` -> ("convene", "ABC123"); anything unknown -> ("help", "")."""
    word, _, rest = (text or "").strip().partition(" ")
    word = word.lower()
    return (word, rest.strip()) if word in COMMANDS else ("help", "")
