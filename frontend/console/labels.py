"""German names of console codes (statuses, worklist reasons, events); English via console.po."""

from __future__ import annotations

from frontend.rendering import N_

STATUS = {
    "submitted": N_("Eingegangen"),
    "processing": N_("In automatischer Bearbeitung"),
    "awaiting_payment": N_("Wartet auf Zahlung"),
    "referred": N_("An Sachbearbeitung verwiesen"),
    "in_review": N_("In Prüfung"),
    "awaiting_citizen": N_("Wartet auf Antwort der Bürgerin/des Bürgers"),
    "decided": N_("Entschieden"),
    "notified": N_("Bescheid zugestellt"),
    "objection": N_("Widerspruch"),
    "withdrawn": N_("Zurückgenommen"),
    "closed": N_("Abgeschlossen"),
}

REASON = {
    "incident": N_("Technische Störung"),
    "referred": N_("Verwiesen"),
    "qa_sample": N_("QS-Stichprobe"),
    "human_review": N_("Überprüfung verlangt (Art. 22 DSGVO)"),
    "answer": N_("Antwort der Bürgerin/des Bürgers"),
    "objection": N_("Widerspruch"),
    "awaiting_citizen": N_("Wartet auf Bürgerin/Bürger"),
    "four_eyes": N_("Wartet auf zweite Person"),
    "follow_up": N_("Wiedervorlage fällig"),
    "overdue": N_("Länger als drei Monate unentschieden (§ 75 VwGO)"),
    "late": N_("Bearbeitungsziel überschritten"),
}

OUTCOME = {
    "approved": N_("Bewilligt"),
    "rejected": N_("Abgelehnt"),
    "referred": N_("Verwiesen"),
}

AGE = {
    "1": N_("älter als 1 Tag"),
    "3": N_("älter als 3 Tage"),
    "7": N_("älter als 7 Tage"),
    "30": N_("älter als 30 Tage"),
}

SORT = {
    "deadline": N_("Nach Bearbeitungsziel (überschrittene zuerst)"),
    "oldest": N_("Älteste zuerst"),
    "newest": N_("Neueste zuerst"),
    "waiting": N_("Am längsten unverändert"),
    "service": N_("Nach Dienst"),
    "status": N_("Nach Status"),
    "due": N_("Fällige Wiedervorlagen zuerst"),
}

PURPOSE = {
    "bearbeitung": N_("Bearbeitung des Antrags"),
    "qa": N_("Qualitätssicherung"),
    "widerspruch": N_("Prüfung eines Widerspruchs"),
    "ueberpruefung": N_("Überprüfung durch eine Person"),
    "aufsicht": N_("Fach- und Dienstaufsicht"),
}

STAGE = {
    "decide": N_("Entscheidung nach den Regeln"),
    "payment": N_("Zahlung"),
    "writeback": N_("Eintrag im Register"),
    "documents": N_("Bescheid erstellen"),
    "notify": N_("Benachrichtigung"),
    "handover": N_("Übermittlung an das Fachverfahren"),
    "overdue": N_("Zu lange ohne Fortschritt (Überwachung)"),
}

DONE = {
    "incident_retried": N_("Der Schritt wird wiederholt."),
    "incident_taken_over": N_("Sie haben den Antrag übernommen."),
    "decided": N_("Die Entscheidung ist getroffen und der Bescheid zugestellt."),
    "proposed": N_("Die Entscheidung wartet auf die Bestätigung durch eine zweite Person."),
    "hearing": N_(
        "Das Anhörungsschreiben ist versandt (§ 28 VwVfG); entscheiden Sie nach Ablauf der Frist."
    ),
    "asked": N_("Die Rückfrage ist an die Bürgerin oder den Bürger gegangen."),
    "rerun": N_("Die automatische Bearbeitung ist erneut gelaufen."),
    "reread": N_("Das Register ist erneut abgefragt; seine Antwort steht bei den Angaben."),
    "value_confirmed": N_("Die Angabe ist mit Nachweis bestätigt. Entscheiden Sie nun selbst."),
    "value_corrected": N_(
        "Die Angabe ist berichtigt; der Vorschlag der Maschine ist neu berechnet."
    ),
    "forwarded": N_("Der Widerspruch ist an die Widerspruchsbehörde weitergeleitet."),
    "cancelled": N_("Das Verfahren ist eingestellt."),
    "assigned": N_("Die Zuständigkeit ist geändert."),
    "confirmed": N_("Die Entscheidung ist bestätigt und der Bescheid zugestellt."),
    "refused": N_("Die vorgeschlagene Entscheidung ist zurückgewiesen."),
    "paused": N_("Die Automatisierung ist angehalten."),
    "resumed": N_("Die Automatisierung läuft wieder."),
    "noted": N_("Die Notiz ist gespeichert."),
    "follow_up_set": N_("Die Wiedervorlage ist gesetzt."),
    "follow_up_cleared": N_("Die Wiedervorlage ist erledigt."),
    "eakte_filed": N_("Die E-Akte hat die Übernahme des Vorgangs bestätigt."),
    "eakte_batch": N_("Die Übergabe an die E-Akte ist gelaufen; den Stand sehen Sie unten."),
}

CREDIT_RESULT = {
    "unknown_kassenzeichen": N_("Kassenzeichen unbekannt"),
    "amount_mismatch": N_("Betrag weicht ab"),
    "duplicate": N_("Doppelt bezahlt"),
    "late": N_("Nach Fristende bezahlt, Erstattung nötig"),
    "paid": N_("Zugeordnet"),
}
"""Results of a bank-statement credit (backend/payments/camt.py)."""

EAKTE_STATUS = {
    "pending": N_("Wird übergeben"),
    "acknowledged": N_("Von der E-Akte bestätigt"),
    "failed": N_("Fehlgeschlagen, bitte prüfen"),
}

REFERRAL = {
    "no_legal_basis": N_("Keine Rechtsgrundlage für automatisierte Entscheidungen (§ 35a VwVfG)"),
    "automation_paused": N_("Automatisierung angehalten"),
    "disputed_data": N_("Registerangaben als falsch gemeldet"),
    "remark": N_("Anmerkung der Antragstellerin/des Antragstellers"),
    "registry_failure": N_("Register nicht erreichbar, Angaben selbst eingegeben"),
    "held_data_missing": N_("Register ohne Angaben, Angaben selbst eingegeben"),
    "register_blocked": N_(
        "Auskunftssperre im Melderegister (§ 51 BMG), Angaben selbst eingegeben"
    ),
    "unverified_register_fact": N_("Entscheidungserhebliche Registerangabe nicht belegt"),
    "rule_referred": N_("Regel verlangt Prüfung durch eine Person"),
    "qa_sample": N_("QS-Stichprobe"),
}
"""Why the machine handed a case over, as a clerk reads it (the citizen's wording is in policy)."""

EFFECT = {
    "approve": N_("trägt die Bewilligung"),
    "reject": N_("führt zur Ablehnung"),
    "refer": N_("führt zur Prüfung durch eine Person"),
    "output": N_("berechnet"),
}

EVENT = {
    "submitted": N_("Antrag eingegangen"),
    "processing_started": N_("Automatische Bearbeitung begonnen"),
    "decided": N_("Entschieden"),
    "case_decided": N_("Entscheidung getroffen"),
    "document_issued": N_("Dokument ausgestellt"),
    "citizen_notified": N_("Bürgerin/Bürger benachrichtigt"),
    "referred": N_("An Sachbearbeitung verwiesen"),
    "payment_requested": N_("Zahlung angefordert"),
    "payment_reminder_sent": N_("Zahlungserinnerung versandt"),
    "payment_received": N_("Zahlung eingegangen"),
    "late_payment_received": N_("Verspätete Zahlung eingegangen"),
    "refund_requested": N_("Erstattung der Gebühr veranlasst"),
    "payment_expired": N_("Zahlungsfrist abgelaufen"),
    "registry_written": N_("Im Register eingetragen"),
    "handed_over": N_("An das Fachverfahren übermittelt"),
    "handover_accepted": N_("Vom Fachverfahren angenommen"),
    "handover_rejected": N_("Vom Fachverfahren zurückgewiesen"),
    "handover_callback_ignored": N_("Rückmeldung des Fachverfahrens verworfen"),
    "review_requested": N_("Überprüfung durch eine Person verlangt"),
    "objection_lodged": N_("Widerspruch eingelegt"),
    "objection_forwarded": N_("Widerspruch an die Widerspruchsbehörde weitergeleitet"),
    "question_asked": N_("Rückfrage gestellt"),
    "question_answered": N_("Rückfrage beantwortet"),
    "withdrawn": N_("Antrag zurückgenommen"),
    "cancelled": N_("Verfahren eingestellt"),
    "closed": N_("Abgeschlossen"),
    "assigned": N_("Zuständigkeit geändert"),
    "automation_rerun": N_("Automatische Bearbeitung erneut gestartet"),
    "register_reread": N_("Register erneut abgefragt"),
    "value_confirmed": N_("Angabe mit Nachweis bestätigt"),
    "value_corrected": N_("Angabe berichtigt"),
    "clerk_decision": N_("Entscheidung durch Sachbearbeitung"),
    "decision_proposed": N_("Entscheidung vorgeschlagen (Vier-Augen-Prinzip)"),
    "decision_confirmed": N_("Entscheidung von zweiter Person bestätigt"),
    "decision_refused": N_("Entscheidung von zweiter Person zurückgewiesen"),
    "resumed": N_("Bearbeitung fortgesetzt"),
    "incident_raised": N_("Technische Störung gemeldet"),
    "incident_retried": N_("Gestörter Schritt wiederholt"),
    "incident_resolved": N_("Technische Störung erledigt"),
    "note_added": N_("Interne Notiz"),
    "registry_cancelled": N_("Registereintrag aufgehoben"),
    "hearing_started": N_("Anhörung eingeleitet (§ 28 VwVfG)"),
    "hearing_dispensed": N_("Von der Anhörung abgesehen (§ 28 Abs. 2 VwVfG)"),
    "follow_up_set": N_("Wiedervorlage gesetzt"),
    "follow_up_cleared": N_("Wiedervorlage erledigt"),
}
"""Every case-log event type the backend writes (tests/unit/test_console_labels.py checks)."""

ACTOR = {
    "system": N_("Automatische Bearbeitung"),
    "citizen": N_("Antragsteller/in"),
    "fachverfahren": N_("Fachverfahren"),
    "clerk": N_("Mitarbeiter/in (nicht mehr im Verzeichnis)"),
}

ACCESS_OUTCOME = {
    "ok": N_("geliefert"),
    "empty": N_("keine Angaben"),
    "failed": N_("nicht erreichbar"),
    "applied": N_("eingetragen"),
}

DEPARTMENT = {
    "buergeramt": N_("Bürgeramt"),
    "elterngeldstelle": N_("Elterngeldstelle"),
    "familienkasse": N_("Familienkasse"),
    "ordnungsamt": N_("Ordnungsamt"),
    "steueramt": N_("Steueramt"),
    "strassenverkehrsamt": N_("Straßenverkehrsamt"),
    "studierendenwerk": N_("Studierendenwerk"),
    "tiefbauamt": N_("Tiefbauamt"),
    "umweltamt": N_("Umweltamt"),
}
"""Names of the departments the shipped services name (tenancy moves them into tenant data)."""

PAYMENT_STATUS = {
    "open": N_("offen"),
    "paid": N_("bezahlt"),
    "expired": N_("Frist abgelaufen"),
    "cancelled": N_("storniert"),
}

TASK_STATUS = {
    "open": N_("offen"),
    "done": N_("erledigt"),
    "closed": N_("erledigt"),
    "cancelled": N_("entfallen"),
}

ROLE = {
    "clerk": N_("Sachbearbeitung"),
    "supervisor": N_("Leitung"),
}
