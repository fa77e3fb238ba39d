"""The page's script, passed to `launch(js=...)`: keyboard shortcuts for the Label and Review tabs, and
the Predict tab answering as you type.

The script only clicks elements the Python side created (by elem_id), so every shortcut goes through
the same event handlers as a mouse click. Label keys are ignored while typing in a text field, with
a modifier held, or when the Label tab is not on screen; Enter accepts the model's suggestion. In the
Predict tab a pause in typing or Enter clicks Predict (Shift+Enter adds a line), and the answers on
screen are marked stale from the first keystroke until the answer for the current text arrives.
"""

from __future__ import annotations

LABEL_BUTTON_ID = "ftd-label-{n}"  # n = 1..MAX_BUTTONS
PANEL_ID = "ftd-label-panel"
MULTI_ID = "ftd-multi"  # CheckboxGroup (multi-label)
RADIO_ID = "ftd-radio"  # Radio (single-label datasets with more labels than buttons)
SUBMIT_ID = "ftd-submit"
ACCEPT_ID = "ftd-accept"  # accepts the model's suggestion (single-label and pair buttons); Enter clicks it
SKIP_ID = "ftd-skip"
# the Review tab (ui/review_tab.py): the same keys, plus C to confirm a label
REVIEW_PANEL_ID, REVIEW_CARD_ID = "ftd-review", "ftd-review-card"
REVIEW_ACCEPT_ID, REVIEW_CONFIRM_ID = "ftd-review-accept", "ftd-review-confirm"
REVIEW_SKIP_ID, REVIEW_UNDO_ID = "ftd-review-skip", "ftd-review-undo"
REVIEW_BUTTON_ID = "ftd-review-label-{n}"  # n = 1..9: relabel as that label
UNDO_ID = "ftd-undo"
LABEL_MSG_ID, REVIEW_MSG_ID = "ftd-label-msg", "ftd-review-msg"  # where an error answering a key press shows
CARD_ID = "ftd-card"  # its HTML carries data-example-id of the example on screen
PREDICT_TEXT_ID, PREDICT_PAIR_ID = "ftd-predict-text", "ftd-predict-pair"
PREDICT_RUN_ID = "ftd-predict-run"
PREDICT_ANSWERS_ID = "ftd-predict-answers"  # gets the class ftd-stale while the text differs from the answer's
PREDICT_PAUSE_MS = 600  # a pause in typing this long asks for an answer
RESEND_MS = 400  # a key's click is sent again when nothing answered it this long after (a new try each time)
RESEND_TRIES = 5  # at most this many times: 2 s for the event before it to finish

KEYBOARD_JS = """
() => {
  if (window.__ftdemoKeys) return;
  window.__ftdemoKeys = true;
  const shown = (el) => !!el && el.offsetParent !== null && !el.disabled;
  const typing = (el) => {
    if (!el || !el.tagName) return false;
    if (el.isContentEditable) return true;
    const tag = el.tagName;
    if (tag === "TEXTAREA" || tag === "SELECT") return true;
    if (tag !== "INPUT") return false;
    const type = (el.getAttribute("type") || "text").toLowerCase();
    return !["checkbox", "radio", "button", "submit", "reset", "range", "color", "file"].includes(type);
  };
  const byId = (id) => {
    const el = document.getElementById(id);
    if (!el) return null;
    return el.tagName === "BUTTON" ? el : (el.querySelector("button") || el);
  };
  // A key that saves something waits for the card to change (or 1.5 s) before the next one is taken,
  // so "1 1" typed fast labels one example once instead of sending the same example id twice.
  let lock = null;
  const cardId = () => {
    const card = document.querySelector("#%(card)s [data-example-id]");
    return card ? card.getAttribute("data-example-id") : null;
  };
  const busy = () => lock !== null && cardId() === lock.id && Date.now() < lock.until;
  // Gradio drops a click on a button whose last event is still finishing (trigger_mode "once"), and that
  // event can still be finishing a moment after the next card is on screen, so the same key pressed again
  // at once would be lost. A key's click is therefore sent again, every %(resend)s ms up to %(tries)s times, for as
  // long as nothing answered it. Every answer, a new screen or an error, carries a new data-render stamp
  // (html.stamped) in the card or the message: what the card shows is not enough (skip, then undo, shows the
  // same example again, and it must not be skipped twice), nor is any change inside it (Gradio restyles the
  // card when an event ends, which once made a dropped key look answered). A click sent again cannot act
  // twice: while one request runs Gradio drops the others, and an answered one has changed the stamp.
  const stamp = (id) => {
    const el = document.querySelector("#" + id + " [data-render]");
    return el ? el.getAttribute("data-render") : "";
  };
  const answers = (ids) => ids.map(stamp).join(" ");
  const send = (target, ids) => {
    const before = answers(ids);
    let tries = 0;
    const again = () => {
      if (answers(ids) !== before || !target.isConnected || !shown(target)) return;
      target.click();
      if (++tries < %(tries)s) setTimeout(again, %(resend)s);
    };
    target.click();
    setTimeout(again, %(resend)s);
  };
  document.addEventListener("keydown", (ev) => {
    if (ev.ctrlKey || ev.metaKey || ev.altKey || ev.repeat || ev.isComposing) return;
    if (typing(ev.target)) return;
    if (!shown(document.getElementById("%(panel)s"))) return;
    const key = ev.key;
    let target = null;
    if (/^[1-9]$/.test(key)) {
      const n = Number(key);
      const button = byId("%(button_prefix)s" + n);
      if (shown(button)) {
        target = button;
      } else {
        const boxes = Array.from(document.querySelectorAll(
          "#%(multi)s input[type=checkbox], #%(radio)s input[type=radio]")).filter(shown);
        target = boxes[n - 1] || null;
      }
    } else if (key === "Enter") {
      if (ev.target && ev.target.tagName === "BUTTON") return;  // a focused button handles Enter itself
      // the suggestion's button when there is one (label buttons), else Submit (checkboxes and radio,
      // which start with the suggestion ticked)
      const accept = byId("%(accept)s");
      target = shown(accept) ? accept : byId("%(submit)s");
    } else if (key === "s" || key === "S") {
      target = byId("%(skip)s");
    } else if (key === "u" || key === "U") {
      target = byId("%(undo)s");
    }
    if (!shown(target)) return;
    ev.preventDefault();
    // label, submit and skip act on the example on screen; toggles and undo don't
    const saves = target.tagName === "BUTTON" && target.id !== "%(undo)s";
    if (saves && busy()) return;
    lock = saves ? { id: cardId(), until: Date.now() + 1500 } : (target.id === "%(undo)s" ? null : lock);
    if (target.tagName === "BUTTON") send(target, ["%(card)s", "%(msg)s"]);
    else target.click();  // a checkbox or radio toggle: sent again it would undo itself
  });

  // --- Review tab: Enter relabels as suggested, 1-9 as that label, C confirms, S skips, U undoes --------
  let reviewLock = null;
  const reviewCard = () => {
    const card = document.querySelector("#%(rcard)s [data-example-id]");
    return card ? card.getAttribute("data-example-id") : null;
  };
  document.addEventListener("keydown", (ev) => {
    if (ev.ctrlKey || ev.metaKey || ev.altKey || ev.repeat || ev.isComposing) return;
    if (typing(ev.target)) return;
    if (!shown(document.getElementById("%(rpanel)s"))) return;
    const key = ev.key;
    let target = null;
    if (/^[1-9]$/.test(key)) {
      target = byId("%(rbutton)s" + key);
    } else if (key === "Enter") {
      // a focused button of the panel handles Enter itself; any other (the tab just clicked) must not
      if (ev.target && ev.target.tagName === "BUTTON" && ev.target.closest("#%(rpanel)s")) return;
      target = byId("%(raccept)s");
    } else if (key === "c" || key === "C") {
      target = byId("%(rconfirm)s");
    } else if (key === "s" || key === "S") {
      target = byId("%(rskip)s");
    } else if (key === "u" || key === "U") {
      target = byId("%(rundo)s");
    }
    if (!shown(target)) return;
    ev.preventDefault();
    const saves = target.id !== "%(rundo)s";
    if (saves && reviewLock && reviewLock.id === reviewCard() && Date.now() < reviewLock.until) return;
    reviewLock = saves ? { id: reviewCard(), until: Date.now() + 1500 } : null;
    send(target, ["%(rcard)s", "%(rmsg)s"]);
  });

  // --- Predict tab: answer after a pause in typing and on Enter; mark stale answers -------------------
  const P = window.__ftdPredict = { seq: 0, asked: -1, timer: null };
  const predictBox = (el) => !!el && el.tagName === "TEXTAREA" && !!el.closest("#%(ptext)s, #%(ppair)s");
  const ask = () => {
    clearTimeout(P.timer);
    P.timer = null;
    const text = document.querySelector("#%(ptext)s textarea");
    const run = byId("%(prun)s");
    if (!run || !text || !text.value.trim()) return;
    run.click();  // the click listener below records which text was asked about
  };
  document.addEventListener("click", (ev) => {
    if (ev.target && ev.target.closest && ev.target.closest("#%(prun)s")) {
      clearTimeout(P.timer);
      P.asked = P.seq;
    }
  }, true);
  document.addEventListener("input", (ev) => {
    if (!predictBox(ev.target)) return;
    P.seq += 1;
    const answers = document.getElementById("%(answers)s");
    if (answers) answers.classList.add("ftd-stale");
    clearTimeout(P.timer);
    P.timer = setTimeout(ask, %(pause)d);
  }, true);
  document.addEventListener("keydown", (ev) => {
    if (!predictBox(ev.target) || ev.key !== "Enter" || ev.isComposing) return;
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    // gradio's multi-line box submits on Shift+Enter and adds a line on Enter; people expect the opposite
    ev.preventDefault();
    ev.stopPropagation();
    if (!ev.shiftKey) {
      ask();
      return;
    }
    const box = ev.target;
    box.setRangeText("\\n", box.selectionStart, box.selectionEnd, "end");
    box.dispatchEvent(new Event("input", { bubbles: true }));  // gradio's value follows input events
  }, true);
}
""" % {
    "panel": PANEL_ID, "button_prefix": LABEL_BUTTON_ID.replace("{n}", ""), "multi": MULTI_ID, "radio": RADIO_ID,
    "submit": SUBMIT_ID, "accept": ACCEPT_ID, "skip": SKIP_ID, "undo": UNDO_ID, "card": CARD_ID, "ptext": PREDICT_TEXT_ID,
    "ppair": PREDICT_PAIR_ID, "prun": PREDICT_RUN_ID, "answers": PREDICT_ANSWERS_ID, "pause": PREDICT_PAUSE_MS,
    "rpanel": REVIEW_PANEL_ID, "rcard": REVIEW_CARD_ID, "raccept": REVIEW_ACCEPT_ID, "rconfirm": REVIEW_CONFIRM_ID,
    "rskip": REVIEW_SKIP_ID, "rundo": REVIEW_UNDO_ID, "rbutton": REVIEW_BUTTON_ID.replace("{n}", ""),
    "resend": RESEND_MS, "tries": RESEND_TRIES, "msg": LABEL_MSG_ID, "rmsg": REVIEW_MSG_ID,
}

# runs after every Predict answer: the answer is current if nothing was typed since it was asked for
PREDICT_ANSWERED_JS = """
() => {
  const P = window.__ftdPredict;
  const answers = document.getElementById("%(answers)s");
  if (answers && (!P || P.asked === P.seq)) answers.classList.remove("ftd-stale");
}
""" % {"answers": PREDICT_ANSWERS_ID}
