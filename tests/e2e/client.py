"""Driving the Agents Playground's web UI (Microsoft's Teams client simulator) in headless Chromium.

What a scenario reads is what the page renders: the text of each message bubble, the cards'
buttons, the playground's own notices (an invoke's answer under a card).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1400",
)
WAIT = 120.0  # a ceiling for a loaded CI machine, not a timing assertion

# Every rendered message: its header, author, text, card buttons, an invoke's notice under it.
_MESSAGES_JS = """
return [...document.querySelectorAll('[aria-label="Message header"]')].map(h => {
  const item = h.parentElement;
  const author = item.querySelector('[aria-label="Message author"]');
  const notice = item.querySelector('[aria-label="Display Invoked Message"]');
  return {
    author: author ? author.innerText.trim() : '',
    text: item.innerText,
    buttons: [...item.querySelectorAll('.ac-adaptiveCard button')].map(b => b.title || b.innerText),
    notice: notice ? notice.innerText.trim() : '',
    card: !!item.querySelector('.ac-adaptiveCard'),
  };
});
"""

# A paste into the focused editor: Monaco reads the event's clipboard data.
_PASTE_JS = """
const data = new DataTransfer();
data.setData('text/plain', arguments[0]);
document.activeElement.dispatchEvent(
  new ClipboardEvent('paste', {clipboardData: data, bubbles: true, cancelable: true}));
"""


@dataclass(frozen=True)
class Message:
    """One rendered message of the conversation."""

    author: str
    text: str
    buttons: list[str]
    notice: str
    card: bool

    @property
    def from_bot(self) -> bool:
        return bool(self.author) and self.author == BOT_NAME


BOT_NAME = "PMark"


def start_browser(profile: Path) -> webdriver.Chrome:
    """Headless Debian Chromium with a fresh profile; nothing downloaded."""
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)


class Playground:
    """One browser tab on the playground, switched between its conversations."""

    def __init__(self, driver: webdriver.Chrome, url: str, shots: Path) -> None:
        self.driver = driver
        self.url = url
        self.shots = shots

    # Navigation -------------------------------------------------------------------------

    def open(self, conversation: str = "Personal Chat") -> None:
        """Load the page afresh and pick a conversation ('Personal Chat', 'Group Chat',
        'My Team - General')."""
        self.driver.get(self.url)
        self.wait_for(lambda: self._find(f'[aria-label="{conversation}"]'), "the conversation list")
        self._find(f'[aria-label="{conversation}"]').click()
        time.sleep(0.5)

    def _find(self, css: str) -> WebElement:
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def wait_for(self, check: Callable[[], Any], what: str, timeout: float = WAIT) -> Any:
        """Poll until check() returns something truthy (exceptions count as not yet)."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            try:
                last = check()
                if last:
                    return last
            except (WebDriverException, StaleElementReferenceException, IndexError):
                pass
            time.sleep(0.25)
        raise AssertionError(f"timed out waiting for {what}; last seen: {last!r}")

    # Reading ----------------------------------------------------------------------------

    def messages(self) -> list[Message]:
        rows = self.driver.execute_script(_MESSAGES_JS) or []
        return [Message(**row) for row in rows]

    def bot_messages(self) -> list[Message]:
        return [m for m in self.messages() if m.from_bot]

    def next_bot_message(self, before: int, what: str = "PMark's answer") -> Message:
        """The first bot message after the `before` bot messages already shown."""
        found = self.wait_for(lambda: self.bot_messages()[before:], what)
        time.sleep(0.3)  # let the card finish rendering its buttons
        return self.bot_messages()[before + len(found) - 1] if found else found

    def wait_for_text(self, needle: str, what: str | None = None) -> Message:
        return self.wait_for(
            lambda: next((m for m in reversed(self.messages()) if needle in m.text), None),
            what or repr(needle),
        )

    def browser_errors(self) -> list[str]:
        """The page's console errors, without the fonts and animations it loads from a CDN."""
        out = []
        for entry in self.driver.get_log("browser"):
            message = str(entry.get("message", ""))
            if entry.get("level") != "SEVERE" or "cdn.office.net" in message:
                continue
            if "favicon.ico" in message:
                continue
            out.append(message)
        return out

    # Acting -----------------------------------------------------------------------------

    def send(self, text: str) -> int:
        """Type into the chat box and send; returns how many bot messages were shown before."""
        before = len(self.bot_messages())
        box = self._find("[data-lexical-editor='true']")
        box.click()
        box.send_keys(text)
        self._find("button[aria-label='Send Message']").click()
        self.wait_for(
            lambda: any(text.split()[0] in m.text for m in self.messages() if not m.from_bot),
            "the sent message",
        )
        return before

    def ask(self, text: str) -> Message:
        """Send a message and wait for PMark's next answer."""
        return self.next_bot_message(self.send(text))

    def click(self, title: str, message: int = -1) -> int:
        """Press a card button by its title on the given bot message (default: the latest)."""
        before = len(self.bot_messages())
        items = self.driver.find_elements(By.CSS_SELECTOR, '[aria-label="Message header"]')
        bot_items = [
            h.find_element(By.XPATH, "..")
            for h in items
            if h.find_elements(By.CSS_SELECTOR, '[aria-label="Message author"]')
        ]
        target = bot_items[message]
        buttons = [
            b
            for b in target.find_elements(By.CSS_SELECTOR, ".ac-adaptiveCard button")
            if (b.get_attribute("title") or b.text).strip() == title
        ]
        assert buttons, f"no button {title!r} on that card"
        self.driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", buttons[0])
        buttons[0].click()
        return before

    # Mentions and channels -------------------------------------------------------------

    def mention(self, name: str, box: WebElement | None = None) -> None:
        """Type @ and pick a person (or PMark) from the playground's mention list."""
        box = box or self._find("[data-lexical-editor='true']")
        box.send_keys("@" + name[:3])
        option = self.wait_for(
            lambda: [
                o
                for o in self.driver.find_elements(
                    By.CSS_SELECTOR, "[role=listbox] [role=menuitem]"
                )
                if o.text.strip().splitlines()[-1:] == [name]
            ][0],
            f"{name} in the mention list",
        )
        option.click()
        time.sleep(0.2)

    def type(self, text: str, box: WebElement | None = None) -> None:
        (box or self._find("[data-lexical-editor='true']")).send_keys(text)

    def post(self) -> None:
        """Press the channel's Post button (a new thread)."""
        [b for b in self.driver.find_elements(By.TAG_NAME, "button") if b.text == "Post"][0].click()

    def thread(self, needle: str) -> WebElement:
        """The latest channel thread (a post and its replies) whose text has `needle`."""
        groups = self.driver.find_elements(By.CSS_SELECTOR, "[role=group]")
        return [g for g in groups if needle in g.text][-1]

    def thread_cards(self, needle: str) -> list[str]:
        """The text of each card PMark posted in that thread."""
        return [
            c.text for c in self.thread(needle).find_elements(By.CSS_SELECTOR, ".ac-adaptiveCard")
        ]

    def reply_in_thread(self, needle: str, parts: list[tuple[str, str]]) -> None:
        """Write in that thread's reply box: ('mention', name) or ('text', words)."""
        thread = self.thread(needle)
        box = thread.find_element(By.CSS_SELECTOR, "[data-lexical-editor='true']")
        box.click()
        for kind, value in parts:
            if kind == "mention":
                self.mention(value, box)
            else:
                box.send_keys(value)
        thread.find_element(By.CSS_SELECTOR, "button[aria-label='Send Message']").click()

    def send_custom_activity(self, activity: dict[str, Any]) -> None:
        """Send an activity through the playground's "Mock an Activity > Custom activity" dialog
        (its JSON editor), as when another person of the team writes: the playground's UI has
        one current user, and this dialog is how it lets another one speak."""
        self._button("Mock an Activity").click()
        self.wait_for(
            lambda: [
                i
                for i in self.driver.find_elements(By.CSS_SELECTOR, "[role=menuitem]")
                if i.text == "Custom activity"
            ][0],
            "the Custom activity menu item",
        ).click()
        self.wait_for(lambda: self._find("[role=dialog]"), "the Custom activity dialog")
        # The dialog fetches its template for the conversation: replace it only once it is in.
        editor = self.wait_for(
            lambda: [
                e
                for e in self.driver.find_elements(
                    By.CSS_SELECTOR, "[role=dialog] .monaco-editor .view-lines"
                )
                if '"conversation"' in e.text
            ][0],
            "the JSON editor with the dialog's template",
        )
        time.sleep(0.5)  # the dialog's opening animation: a click during it lands on the overlay
        editor.click()
        self.wait_for(
            lambda: self.driver.execute_script(
                "return !!document.activeElement.closest('[role=dialog] .monaco-editor')"
            ),
            "the JSON editor to have the focus",
        )
        # The whole template replaced by one paste, as a person would (typed key by key, the
        # editor's auto-closed brackets and a re-render of the dialog get in the way).
        ActionChains(self.driver).key_down(Keys.CONTROL).send_keys("a").key_up(
            Keys.CONTROL
        ).perform()
        self.driver.execute_script(_PASTE_JS, json.dumps(activity, ensure_ascii=False))
        # A message activity pasted in turns the dialog into a form of its fields; its JSON
        # tab still holds what was pasted, and the button sends that.
        time.sleep(0.5)
        for tab in self.driver.find_elements(By.CSS_SELECTOR, "[role=dialog] [role=tab]"):
            if tab.text == "JSON":
                tab.click()
        typed = self.wait_for(
            lambda: self._find("[role=dialog] .monaco-editor .view-lines").text,
            "the JSON editor again",
        )
        assert typed.startswith('{"type"'), f"the editor holds {typed[:200]!r}"
        self._button("Send activity", "[role=dialog] button").click()
        self.wait_for(
            lambda: not self.driver.find_elements(By.CSS_SELECTOR, "[role=dialog]"),
            "the dialog to close (an activity it could not read keeps it open)",
        )

    def _button(self, text: str, css: str = "button") -> WebElement:
        return self.wait_for(
            lambda: [b for b in self.driver.find_elements(By.CSS_SELECTOR, css) if b.text == text][
                0
            ],
            f"the {text!r} button",
        )

    def shot(self, name: str) -> Path:
        """A screenshot of the page under .pytest-logs/e2e/."""
        self.shots.mkdir(parents=True, exist_ok=True)
        path = self.shots / f"{name}.png"
        self.driver.save_screenshot(str(path))
        return path
