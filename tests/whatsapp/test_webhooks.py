"""Inbound webhooks: signatures, idempotent intake, the AI reply, statuses, Meta batches."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import select

from server.business.models import Business
from server.crypto import decrypt
from server.db import db_session, utcnow
from server.leads.models import Lead, LeadEvent
from server.whatsapp.models import Conversation, InboundEvent, Message
from tests.conftest import error_of
from tests.fakes import whatsapp_meta as meta
from tests.fakes import whatsapp_twilio as twilio
from tests.whatsapp.conftest import CUSTOMER, NUMBER_A, NUMBER_B, PNID_A, PNID_B, PUBLIC, TOKEN_A, WA


def test_inbound_message_is_answered_by_the_ai_with_the_business_prompt(wa: WA) -> None:
    response = wa.twilio_text("שלום, אפשר לקבוע תור למחר?", profile_name="דנה כהן")
    assert response.status_code == 200
    assert response.mimetype == "text/xml" and b"<Response/>" in response.data

    [call] = wa.fakes.ai.calls
    assert call["model"] == "gpt-test-mini"
    system = call["messages"][0]
    assert system["role"] == "system"
    assert system["content"].startswith("את הנציגה של מספרה א. ענו קצר.")
    assert "דנה כהן" in system["content"] and CUSTOMER in system["content"]
    assert call["messages"][-1] == {"role": "user", "content": "שלום, אפשר לקבוע תור למחר?"}
    assert [t["function"]["name"] for t in call["tools"]] == ["save_lead"]

    [sent] = wa.fakes.twilio.sends
    assert sent.form["From"] == f"whatsapp:{NUMBER_A}" and sent.form["To"] == f"whatsapp:{CUSTOMER}"
    assert sent.body == "echo: שלום, אפשר לקבוע תור למחר?"
    assert sent.form["StatusCallback"] == f"{PUBLIC}/webhook/whatsapp/twilio/status"

    conversation = wa.conversation(wa.world.business_a)
    inbound, reply = wa.messages(conversation.id)
    assert (inbound.direction, inbound.author, inbound.status) == ("in", "customer", "received")
    assert (reply.direction, reply.author, reply.status) == ("out", "ai", "queued")
    assert reply.provider_message_id == sent.sid
    assert conversation.answered_through_id == inbound.id and conversation.reply_armed_at is None

    # The sender became a lead of business A, source whatsapp, with last_inbound_at.
    lead = db_session.scalar(select(Lead).where(Lead.phone == CUSTOMER))
    assert lead is not None and lead.business_id == wa.world.business_a
    assert (lead.source, lead.full_name) == ("whatsapp", "דנה כהן")
    assert lead.last_inbound_at is not None and conversation.lead_id == lead.id

    # A second message: same conversation, history sent to the AI, the lead linked once.
    wa.twilio_text("ובשעה 10?")
    assert len(wa.fakes.ai.calls) == 2
    roles = [(m["role"], m["content"]) for m in wa.fakes.ai.calls[1]["messages"][1:]]
    assert roles == [
        ("user", "שלום, אפשר לקבוע תור למחר?"),
        ("assistant", "echo: שלום, אפשר לקבוע תור למחר?"),
        ("user", "ובשעה 10?"),
    ]
    assert wa.count(Conversation) == 1
    kinds = db_session.scalars(select(LeadEvent.kind).where(LeadEvent.lead_id == lead.id)).all()
    assert kinds.count("conversation_linked") == 1 and kinds.count("created") == 1


def test_a_saved_prompt_applies_to_the_next_reply(wa: WA) -> None:
    wa.twilio_text("היי")
    api = wa.world.as_("business_a")
    assert (
        api.put(
            "/api/business/current/prompt", {"calls_prompt": "x", "whatsapp_prompt": "פרומפט חדש"}
        ).status_code
        == 200
    )
    wa.twilio_text("שוב היי")
    assert wa.fakes.ai.calls[-1]["messages"][0]["content"].startswith("פרומפט חדש")


def test_duplicate_delivery_is_processed_once(wa: WA) -> None:
    form = twilio.inbound_form(CUSTOMER, NUMBER_A, "כפול")
    assert wa.twilio(form).status_code == 200
    assert wa.twilio(form).status_code == 200  # Twilio retried after a timeout
    assert wa.counts() == (1, 2, 1)  # one event; the message and its one reply; one conversation
    assert len(wa.fakes.ai.calls) == 1 and len(wa.fakes.twilio.sends) == 1

    payload = meta.webhook(
        [
            meta.change(
                PNID_A,
                [meta.text_message("972501112222", "meta כפול", "wamid.DUP1")],
                contacts=[meta.contact("972501112222", "רון")],
            )
        ]
    )
    assert wa.meta(payload).status_code == 200
    second = wa.meta(payload)
    assert second.status_code == 200 and second.json["duplicates"] == 1
    assert wa.count(InboundEvent) == 2 and len(wa.fakes.ai.calls) == 2 and len(wa.fakes.meta.sends) == 1


def test_bad_and_missing_signatures_are_refused_and_nothing_is_stored(wa: WA) -> None:
    form = twilio.inbound_form(CUSTOMER, NUMBER_A, "זיוף")
    path = "/webhook/whatsapp/twilio"
    client = wa.client
    assert error_of(client.post(path, data=form)) == (403, "bad_signature")  # no header
    assert error_of(wa.twilio(form, signature="")) == (403, "bad_signature")
    forged = twilio.sign(PUBLIC + path, form, auth_token="not-our-token")
    assert error_of(wa.twilio(form, signature=forged)) == (403, "bad_signature")
    other_url = twilio.sign("https://evil.example.com" + path, form)
    assert error_of(wa.twilio(form, signature=other_url)) == (403, "bad_signature")
    tampered = {**form, "Body": "אחר"}
    assert error_of(wa.twilio(tampered, signature=twilio.sign(PUBLIC + path, form))) == (403, "bad_signature")
    status_path = "/webhook/whatsapp/twilio/status"
    assert error_of(client.post(status_path, data=twilio.status_form("SM" + "0" * 32, "read"))) == (
        403,
        "bad_signature",
    )

    payload = meta.webhook([meta.change(PNID_A, [meta.text_message("972501112222", "זיוף")])])
    raw, headers = meta.signed(payload)
    assert error_of(
        client.post("/webhook/whatsapp/meta", data=raw, headers={"Content-Type": "application/json"})
    ) == (
        403,
        "bad_signature",
    )
    assert error_of(wa.meta(payload, secret="wrong-secret")) == (403, "bad_signature")
    tampered_raw = raw.replace("זיוף".encode(), "אמת".encode())
    assert error_of(client.post("/webhook/whatsapp/meta", data=tampered_raw, headers=headers)) == (
        403,
        "bad_signature",
    )

    assert wa.counts() == (0, 0, 0)
    assert wa.count(Lead) == 0
    assert wa.fakes.ai.calls == [] and wa.fakes.twilio.sends == []


def test_meta_verification_handshake(wa: WA) -> None:
    query = {"hub.mode": "subscribe", "hub.verify_token": meta.VERIFY_TOKEN, "hub.challenge": "1158201444"}
    response = wa.client.get("/webhook/whatsapp/meta", query_string=query)
    assert response.status_code == 200 and response.data == b"1158201444"
    wrong = wa.client.get("/webhook/whatsapp/meta", query_string={**query, "hub.verify_token": "guess"})
    assert error_of(wrong) == (403, "bad_verify_token")


def test_meta_batch_with_several_entries_messages_and_statuses(wa: WA) -> None:
    # An earlier reply of A's to Dana, so the batch's statuses have something to move.
    wa.meta(
        meta.webhook(
            [
                meta.change(
                    PNID_A,
                    [meta.text_message("972501234567", "פתיחה")],
                    contacts=[meta.contact("972501234567", "דנה")],
                )
            ]
        )
    )
    [first_send] = wa.fakes.meta.sends
    assert first_send["to"] == "972501234567" and first_send["text"]["body"] == "echo: פתיחה"
    assert wa.fakes.meta.requests[0].headers["Authorization"] == f"Bearer {TOKEN_A}"
    sent_id = first_send["id"]

    payload = meta.webhook(
        [
            meta.change(
                PNID_A,
                [
                    meta.text_message("972501234567", "הודעה 1"),
                    meta.text_message("972502222222", "שלום מיוסי"),
                ],
                statuses=[meta.status(sent_id, "sent"), meta.status(sent_id, "delivered")],
                contacts=[meta.contact("972501234567", "דנה"), meta.contact("972502222222", "יוסי")],
            ),
            meta.change(
                PNID_A,
                [
                    {
                        "from": "972501234567",
                        "id": meta.wamid(),
                        "timestamp": "1763900000",
                        "type": "image",
                        "image": {"id": "MEDIA1", "mime_type": "image/jpeg", "caption": "הנה התמונה"},
                    }
                ],
            ),
        ],
        [
            meta.change(
                PNID_B,
                [meta.text_message("972503333333", "שלום למוסך")],
                contacts=[meta.contact("972503333333", "מיכל")],
            )
        ],
    )
    response = wa.meta(payload)
    assert response.status_code == 200 and response.json["messages"] == 4 and response.json["statuses"] == 2

    dana = wa.conversation(wa.world.business_a, "+972501234567")
    texts = [(m.direction, m.kind, m.text) for m in wa.messages(dana.id) if m.direction == "in"]
    assert texts == [
        ("in", "text", "פתיחה"),
        ("in", "text", "הודעה 1"),
        ("in", "image", "📷 תמונה: הנה התמונה"),
    ]
    image = next(m for m in wa.messages(dana.id) if m.kind == "image")
    assert image.media == [{"id": "MEDIA1", "mime_type": "image/jpeg"}]
    assert wa.conversation(wa.world.business_a, "+972502222222").customer_name == "יוסי"
    michal = wa.conversation(wa.world.business_b, "+972503333333")
    assert next(m.text for m in wa.messages(michal.id)) == "שלום למוסך"

    # Delivery state from the batch's statuses; each business replied through its own token.
    first_reply = db_session.scalar(select(Message).where(Message.provider_message_id == sent_id))
    assert first_reply is not None and first_reply.status == "delivered"
    by_number = {s["phone_number_id"] for s in wa.fakes.meta.sends}
    assert by_number == {PNID_A, PNID_B}
    b_send = next(s for s in wa.fakes.meta.sends if s["phone_number_id"] == PNID_B)
    b_request = next(r for r in wa.fakes.meta.requests if f"/{PNID_B}/" in r.path)
    assert b_send["to"] == "972503333333" and b_request.headers["Authorization"] == "Bearer EAAG-token-of-b"
    b_call = [c for c in wa.fakes.ai.calls if c["messages"][0]["content"].startswith("You are garage B")]
    assert len(b_call) == 1


def test_meta_username_without_number_becomes_the_phone_conversation_when_the_number_appears(wa: WA) -> None:
    user_id = "US.13491208655302741918"
    hidden = {
        "from_user_id": user_id,
        "id": meta.wamid(),
        "timestamp": "1763900000",
        "type": "text",
        "text": {"body": "שלום בלי מספר"},
    }
    contacts = [{"profile": {"name": "נועה", "username": "@noa"}, "user_id": user_id}]
    assert wa.meta(meta.webhook([meta.change(PNID_A, [hidden], contacts=contacts)])).status_code == 200
    conversation = db_session.scalar(select(Conversation).where(Conversation.customer_user_id == user_id))
    assert conversation is not None and conversation.customer_phone is None and conversation.lead_id is None
    assert wa.count(Lead) == 0
    shown = meta.text_message("972504444444", "זה המספר שלי")
    wa.meta(
        meta.webhook([meta.change(PNID_A, [shown], contacts=[meta.contact("972504444444", "נועה", user_id)])])
    )
    assert wa.count(Conversation) == 1
    merged = wa.conversation(wa.world.business_a, "+972504444444")
    assert merged.id == conversation.id and merged.lead_id is not None


def test_status_callbacks_update_delivery_and_never_move_backwards(wa: WA) -> None:
    wa.twilio_text("מה השעות?")
    conversation = wa.conversation(wa.world.business_a)
    reply = wa.messages(conversation.id)[-1]
    sid = reply.provider_message_id
    assert sid and reply.status == "queued"
    path = "/webhook/whatsapp/twilio/status"

    def post(status: str, code: str = "") -> str:
        assert wa.twilio(twilio.status_form(sid, status, code), path=path).status_code == 200
        return wa.messages(conversation.id)[-1].status

    assert post("sent") == "sent"
    assert post("read") == "read"
    assert post("delivered") == "read"  # late: does not undo "read"
    assert post("read") == "read"  # duplicate
    assert post("failed", "30008") == "read"  # it did reach the phone
    assert wa.count(InboundEvent) == 1 + 4  # one message, four distinct statuses (the duplicate dropped)

    # A failed send shows in the inbox with the reason, and under the "failed" filter.
    wa.twilio_text("עוד שאלה")
    second = wa.messages(conversation.id)[-1]
    wa.twilio(twilio.status_form(second.provider_message_id or "", "sent"), path=path)
    wa.twilio(twilio.status_form(second.provider_message_id or "", "undelivered", "63016"), path=path)
    failed = wa.messages(conversation.id)[-1]
    assert (failed.status, failed.error_code) == ("failed", "63016")
    assert "24-hour" in (failed.error_message or "")
    api = wa.world.as_("business_a")
    listed = api.get("/api/conversations?failed=true").json["items"]
    assert [c["id"] for c in listed] == [conversation.id] and listed[0]["has_failed"] is True


def test_a_status_that_beats_the_send_answer_is_applied_when_the_send_is_stored(wa: WA) -> None:
    # Twilio calls the status callback before its answer to our send reaches us.
    path = "/webhook/whatsapp/twilio/status"
    wa.fakes.twilio.on_send = lambda sid: wa.twilio(twilio.status_form(sid, "delivered"), path=path)
    wa.twilio_text("היי")
    reply = wa.messages(wa.conversation(wa.world.business_a).id)[-1]
    assert reply.provider_message_id == wa.fakes.twilio.sends[-1].sid
    assert reply.status == "delivered"
    event = db_session.scalar(
        select(InboundEvent).where(InboundEvent.message_ref == reply.provider_message_id)
    )
    assert event is not None and event.processed and event.business_id == wa.world.business_a


def test_unknown_numbers_and_unknown_fields_are_accepted(wa: WA) -> None:
    assert wa.twilio_text("למספר לא מוכר", to="+97235559999").status_code == 200
    assert wa.counts() == (0, 0, 0)
    # Media and fields we never heard of: stored with metadata and a placeholder.
    form = twilio.inbound_form(
        CUSTOMER,
        NUMBER_A,
        "",
        MessageType="image",
        NumMedia="1",
        MediaUrl0="https://api.twilio.com/media/ME1",
        MediaContentType0="image/jpeg",
        BrandNewField="x",
    )
    assert wa.twilio(form).status_code == 200
    [message, _reply] = wa.messages(wa.conversation(wa.world.business_a).id)
    assert (message.kind, message.text) == ("image", "📷 תמונה")
    assert message.media == [{"url": "https://api.twilio.com/media/ME1", "content_type": "image/jpeg"}]


def test_a_business_messages_never_reach_another_business(wa: WA) -> None:
    wa.twilio_text("לעסק א", to=NUMBER_A)
    wa.twilio_text("לעסק ב", to=NUMBER_B, frm="+972509999999")
    a, b = wa.world.as_("business_a"), wa.world.as_("business_b")
    a_items = a.get("/api/conversations").json["items"]
    b_items = b.get("/api/conversations").json["items"]
    assert [c["customer_phone"] for c in a_items] == [CUSTOMER]
    assert [c["customer_phone"] for c in b_items] == ["+972509999999"]
    a_id = a_items[0]["id"]
    for method, url in (
        ("GET", f"/api/conversations/{a_id}"),
        ("POST", f"/api/conversations/{a_id}/messages"),
        ("POST", f"/api/conversations/{a_id}/pause"),
        ("POST", f"/api/conversations/{a_id}/resume"),
        ("POST", f"/api/conversations/{a_id}/read"),
        ("POST", f"/api/conversations/{a_id}/template"),
    ):
        body = (
            {"text": "x"}
            if url.endswith("messages")
            else {"name": "HX" + "0" * 32}
            if "template" in url
            else None
        )
        response = b.get(url) if method == "GET" else b.post(url, body)
        assert error_of(response) == (404, "conversation_not_found"), url
    assert b.get(f"/api/conversations?q={CUSTOMER[-7:]}").json["items"] == []
    # The same customer writing to both businesses: two conversations, two leads, two prompts.
    wa.twilio_text("גם לב", to=NUMBER_B)
    assert wa.conversation(wa.world.business_a).id != wa.conversation(wa.world.business_b).id
    assert wa.fakes.ai.calls[-1]["messages"][0]["content"].startswith("You are garage B")
    assert wa.fakes.twilio.sends[-1].form["From"] == f"whatsapp:{NUMBER_B}"


def test_meta_access_token_is_write_only_and_encrypted_at_rest(wa: WA) -> None:
    admin = wa.world.as_("admin")
    response = admin.patch(
        f"/api/admin/businesses/{wa.world.business_a}", {"meta_access_token": "EAAG-new-secret"}
    )
    assert response.status_code == 200
    assert response.json["meta_access_token_set"] is True and "meta_access_token" not in response.json
    for body in (
        admin.get(f"/api/admin/businesses/{wa.world.business_a}").json,
        admin.get("/api/admin/businesses").json,
    ):
        assert "EAAG-new-secret" not in str(body)
    from server.business.models import Business

    stored = db_session.get(Business, wa.world.business_a)
    assert stored is not None and stored.meta_access_token_encrypted
    assert "EAAG" not in stored.meta_access_token_encrypted
    assert decrypt(stored.meta_access_token_encrypted, wa.app.extensions["settings"]) == "EAAG-new-secret"
    cleared = admin.patch(f"/api/admin/businesses/{wa.world.business_a}", {"meta_access_token": None})
    assert cleared.json["meta_access_token_set"] is False


def test_the_window_starts_at_the_customers_message(wa: WA) -> None:
    wa.twilio_text("היי")
    conversation = wa.conversation(wa.world.business_a)
    assert conversation.last_inbound_at is not None
    assert utcnow() - conversation.last_inbound_at < timedelta(seconds=30)


def test_only_a_real_duplicate_is_ignored_any_other_integrity_error_is_a_5xx(
    wa: WA, caplog: pytest.LogCaptureFixture
) -> None:
    wa.twilio_text("שלום")
    reply = wa.messages(wa.conversation(wa.world.business_a).id)[-1]
    before = wa.counts()
    # A delivery whose sid collides with one of our sent messages: the intake row is new, the
    # message row violates another unique key. Not a duplicate: Twilio must retry, we must hear of it.
    form = twilio.inbound_form(CUSTOMER, NUMBER_A, "התנגשות", sid=reply.provider_message_id)
    with caplog.at_level(logging.ERROR):
        response = wa.twilio(form)
    assert response.status_code == 500 and response.json["reason"] == "unexpected"
    assert any("unhandled error on POST /webhook/whatsapp/twilio" in r.message for r in caplog.records)
    assert wa.counts() == before  # rolled back: nothing half-stored
    # A real duplicate is still answered 200 and ignored.
    first = twilio.inbound_form(CUSTOMER, NUMBER_A, "פעמיים")
    assert wa.twilio(first).status_code == 200
    after = wa.counts()
    assert wa.twilio(first).status_code == 200 and wa.counts() == after


def test_a_forged_meta_signature_with_non_ascii_characters_is_403_not_500(wa: WA) -> None:
    payload = meta.webhook([meta.change(PNID_A, [meta.text_message("972501112222", "זיוף")])])
    raw, headers = meta.signed(payload)
    for forged in ("sha256=" + "é" * 64, "sha256=" + "ש" * 64):
        response = wa.client.post(
            "/webhook/whatsapp/meta", data=raw, headers={**headers, "X-Hub-Signature-256": forged}
        )
        assert error_of(response) == (403, "bad_signature")
    assert wa.counts() == (0, 0, 0)


def test_a_bad_signature_on_the_status_callback_is_refused_and_changes_nothing(wa: WA) -> None:
    wa.twilio_text("היי")
    sid = wa.fakes.twilio.sends[-1].sid
    path = "/webhook/whatsapp/twilio/status"
    form = twilio.status_form(sid, "read")
    for signature in (
        twilio.sign(PUBLIC + path, form, auth_token="not-our-token"),
        twilio.sign(PUBLIC + "/webhook/whatsapp/twilio", form),  # signed for another URL
        twilio.sign(PUBLIC + path, twilio.status_form(sid, "delivered")),  # for other fields
    ):
        assert error_of(wa.twilio(form, path=path, signature=signature)) == (403, "bad_signature")
    assert wa.messages(wa.conversation(wa.world.business_a).id)[-1].status == "queued"
    assert wa.count(InboundEvent) == 1


def test_a_known_customers_messages_count_and_each_change_takes_the_full_path(wa: WA) -> None:
    """The intake's short path (a known conversation with its lead) and what sends it the long way:
    a name to fill, a lead deleted meanwhile, a lead whose number changed, an older Meta timestamp."""
    a = wa.world.business_a
    user = wa.world.as_("business_a")

    def lead_of(conversation: Conversation) -> Lead:
        lead = db_session.get(Lead, conversation.lead_id)
        assert lead is not None
        return lead

    assert wa.twilio(twilio.inbound_form(CUSTOMER, NUMBER_A, "אחת", profile_name="")).status_code == 200
    first = wa.conversation(a)
    lead = lead_of(first)
    assert (first.unread_count, first.customer_name, lead.full_name) == (1, "", "")
    before = lead.last_inbound_at
    assert before is not None

    # A name appears: filled on the conversation and the lead.
    wa.twilio(twilio.inbound_form(CUSTOMER, NUMBER_A, "שתיים", profile_name="דנה"))
    second = wa.conversation(a)
    lead = lead_of(second)
    assert (second.unread_count, second.customer_name, lead.full_name) == (2, "דנה", "דנה")
    assert lead.last_inbound_at is not None and lead.last_inbound_at >= before

    # Deleted meanwhile: the customer's next message brings the lead back, with its timeline saying so.
    assert user.delete(f"/api/leads/{lead.id}").status_code in (200, 204)
    wa.twilio(twilio.inbound_form(CUSTOMER, NUMBER_A, "שלוש"))
    third = wa.conversation(a)
    lead = lead_of(third)
    assert lead.deleted_at is None and third.unread_count == 3
    kinds = [e.kind for e in db_session.scalars(select(LeadEvent).where(LeadEvent.lead_id == lead.id))]
    assert "restored" in kinds

    # The lead's number changed: the customer's number gets its own lead, linked to the conversation.
    moved = user.patch(f"/api/leads/{lead.id}", json={"phone": "052-765-4321"})
    assert moved.status_code == 200, moved.json
    wa.twilio(twilio.inbound_form(CUSTOMER, NUMBER_A, "ארבע"))
    fourth = wa.conversation(a)
    assert fourth.lead_id != lead.id and lead_of(fourth).phone == CUSTOMER
    assert len(wa.messages(fourth.id)) >= 4

    # Meta: a message stamped earlier than the last one does not move the window back.
    wa_id = "972509998877"
    contacts = [meta.contact(wa_id, "נועם")]
    now = int(utcnow().timestamp())
    wa.meta(meta.webhook([meta.change(PNID_A, [meta.text_message(wa_id, "חדש", ts=now)], contacts=contacts)]))
    late = meta.text_message(wa_id, "ישן", ts=now - 600)
    wa.meta(meta.webhook([meta.change(PNID_A, [late], contacts=contacts)]))
    window = wa.conversation(a, "+" + wa_id)
    assert window.last_inbound_at is not None and int(window.last_inbound_at.timestamp()) == now
    assert window.unread_count == 2 and lead_of(window).last_inbound_at == window.last_inbound_at


def test_an_inactive_business_stores_the_message_but_arms_no_reply(wa: WA) -> None:
    admin = wa.world.as_("admin")
    assert (
        admin.patch(f"/api/admin/businesses/{wa.world.business_a}", json={"is_active": False}).status_code
        == 200
    )
    business = db_session.get(Business, wa.world.business_a)
    assert business is not None and not business.is_active
    assert wa.twilio_text("שלום").status_code == 200
    conversation = wa.conversation(wa.world.business_a)
    assert conversation.reply_armed_at is None and conversation.unread_count == 1
    assert [m.direction for m in wa.messages(conversation.id)] == ["in"]
    assert not wa.fakes.ai.calls


def test_a_first_message_from_a_number_with_a_lead_links_that_lead(wa: WA) -> None:
    """A number that already has a lead (typed in by a person) is not given a second one: the
    conversation links it, the person's name stays, and its timeline gains only the link."""
    user = wa.world.as_("business_a")
    made = user.post("/api/leads", json={"full_name": "דנה מהטלפון", "phone": "050-123-4567"})
    assert made.status_code == 201, made.json
    lead_id = made.json["id"]
    assert wa.twilio_text("היי", profile_name="Dana").status_code == 200
    conversation = wa.conversation(wa.world.business_a)
    assert conversation.lead_id == lead_id and wa.count(Lead) == 1
    lead = db_session.get(Lead, lead_id)
    assert lead is not None and lead.full_name == "דנה מהטלפון" and lead.last_inbound_at is not None
    kinds = db_session.scalars(select(LeadEvent.kind).where(LeadEvent.lead_id == lead_id)).all()
    assert kinds.count("created") == 1 and kinds.count("conversation_linked") == 1


def test_a_new_senders_lead_takes_the_first_status_of_the_business_pipeline(wa: WA) -> None:
    """Before the business has a pipeline the sender's message makes the default one; after the
    business reorders it, a new sender's lead takes the new first status."""
    user = wa.world.as_("business_a")
    assert wa.twilio_text("ראשון", frm="+972501111111").status_code == 200
    pipeline = [
        {"key": "incoming", "label": "נכנס"},
        {"key": "new", "label": "חדש"},
        {"key": "won", "label": "נסגר", "kind": "won"},
    ]
    assert user.put("/api/leads/statuses", json={"statuses": pipeline}).status_code == 200
    assert wa.twilio_text("שני", frm="+972502222222").status_code == 200
    db_session.remove()
    leads = db_session.scalars(select(Lead).order_by(Lead.id)).all()
    assert [(lead.phone, lead.status, lead.source) for lead in leads] == [
        ("+972501111111", "new", "whatsapp"),
        ("+972502222222", "incoming", "whatsapp"),
    ]
    found = user.get("/api/leads", query_string={"q": "0502222222"}).json["items"]
    assert [lead["phone"] for lead in found] == ["+972502222222"]


def test_the_twilio_signature_covers_every_value_of_a_repeated_field() -> None:
    from twilio.request_validator import RequestValidator
    from werkzeug.datastructures import ImmutableMultiDict

    from server.providers.twilio_whatsapp import signature_valid

    url = PUBLIC + "/webhook/whatsapp/twilio"
    pairs = [("MessageSid", "SM1"), ("Body", "שלום"), ("Tag", "a"), ("Tag", "b")]
    signature = RequestValidator(twilio.AUTH_TOKEN).compute_signature(url, ImmutableMultiDict(pairs))
    assert signature_valid(twilio.AUTH_TOKEN, url, ImmutableMultiDict(pairs), signature)
    assert not signature_valid(twilio.AUTH_TOKEN, url, ImmutableMultiDict(pairs[:-1]), signature)
    assert not signature_valid(
        twilio.AUTH_TOKEN, url, ImmutableMultiDict([*pairs[:-1], ("Tag", "c")]), signature
    )
    single = dict(pairs[:3])
    assert signature_valid(
        twilio.AUTH_TOKEN, url, single, RequestValidator(twilio.AUTH_TOKEN).compute_signature(url, single)
    )
