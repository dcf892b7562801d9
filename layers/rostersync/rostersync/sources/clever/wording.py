"""How reports and alerts speak of Clever and of what a district changes there."""

from __future__ import annotations

from rostersync.sources.profile import Wording

_SHARING = "Applications > Smart Futures > Sharing"

FIXES: dict[str, str] = {
    "district.empty": (
        "In Clever, open Sharing (Applications > Smart Futures > Sharing rules) and share the schools "
        "that use Smart Futures with all of their students, teachers and sections. Nothing is imported "
        "until at least one school and its students are shared; the next nightly sync picks them up."
    ),
    "record.malformed": (
        "Fill in the missing field (named in the finding) for this record in your SIS: people need a "
        "first and last name, students and teachers a school, sections a name and a school, schools a "
        "name. Then run a sync in Clever (Sync > Sync now) or wait for the nightly sync. If the field is "
        "filled in your SIS, check the field mapping in Clever's Sync settings."
    ),
    "school.nces_id.missing": (
        "Enter the school's 12-digit NCES school id (it starts with 42 in Pennsylvania; look it up at "
        "nces.ed.gov/ccd/schoolsearch) in your SIS's school record, or in Clever under Schools > the "
        "school > NCES ID. The school and all its students, teachers and sections are held back until "
        "it is set."
    ),
    "school.nces_id.format": (
        "A school's NCES id has exactly 12 digits: the 7-digit district NCES id followed by the 5-digit "
        "school number. A 7-digit value is your district's NCES id, not the building's. Correct it in "
        "your SIS's school record, or in Clever under Schools > the school > NCES ID; you can find the "
        "right value at nces.ed.gov/ccd/schoolsearch."
    ),
    "school.nces_id.not_pa": (
        "Pennsylvania school NCES ids start with 42. Check the NCES id of this school at "
        "nces.ed.gov/ccd/schoolsearch and correct it in your SIS or in Clever (Schools > the school > "
        "NCES ID). The school was imported as it is."
    ),
    "school.nces_id.duplicate": (
        "Each building has its own 12-digit NCES id. Give each of these schools its own NCES id in your "
        "SIS or in Clever (Schools > the school > NCES ID). If they are really one building, merge them "
        "in your SIS or share only one of them with Smart Futures."
    ),
    "school.no_students": (
        "In Clever, edit the Smart Futures sharing rules so this school is shared with all of its "
        "students (Applications > Smart Futures > Sharing). If the school has no students in your SIS, "
        "remove it from the sharing rules."
    ),
    "school.no_teachers": (
        "In Clever, edit the Smart Futures sharing rules so this school is shared with all of its "
        "teachers (Applications > Smart Futures > Sharing). Teachers need their accounts to see their "
        "students' career plans."
    ),
    "school.no_sections": (
        "In Clever, edit the Smart Futures sharing rules so this school is shared with all of its "
        "sections (Applications > Smart Futures > Sharing). Without sections teachers cannot see which "
        "students are theirs."
    ),
    "student.state_id.missing": (
        "In your SIS, fill in the PA Secure ID (10 digits) for this student; Clever syncs it as "
        "state_id. If your SIS holds it but Clever shows no state_id, fix the mapping in Clever's Sync "
        "settings so the PA Secure ID field is mapped to state_id."
    ),
    "student.state_id.format": (
        "A PA Secure ID is exactly 10 digits (0-9), with no letters, dashes or spaces, and leading "
        "zeros kept. Correct the PA Secure ID in your SIS. If Clever's state_id holds another number "
        "(local student number, a 9-digit id, or leading zeros dropped by a spreadsheet), fix the "
        "state_id mapping in Clever's Sync settings or in your SIS export."
    ),
    "dependent.school_rejected": (
        "Fix the school's own finding first (usually its NCES id); this record is then imported with "
        "the next sync. If the record belongs to a school not shared with Smart Futures, add that school "
        "to the sharing rules in Clever (Applications > Smart Futures > Sharing), or correct the "
        "record's school in your SIS."
    ),
    "user.multiple_account_types": (
        "Nothing is lost: the person gets one account, as a teacher if they teach a shared section, "
        "otherwise as staff. If that is the wrong account type, give the person only one role in your "
        "SIS or in Clever (remove the extra teacher, staff or district admin record)."
    ),
    "teacher.no_sections": (
        "Share this teacher's sections with Smart Futures in Clever (Applications > Smart Futures > "
        "Sharing), or check their section assignments in your SIS. If this is a counselor or other "
        "non-teaching staff member, the district should share them as staff (in your SIS or Clever's "
        "staff upload) instead of as a teacher."
    ),
    "section.no_teacher": (
        "Assign the teacher of record to this section in your SIS (and make sure that teacher is shared "
        "with Smart Futures in Clever), then sync. Without a teacher nobody sees the section's students."
    ),
    "section.unknown_user": (
        "Those people were left out of the section. Share them with Smart Futures in Clever "
        "(Applications > Smart Futures > Sharing), or fix their own findings in this report; they are "
        "added back to the section with the next sync."
    ),
    "user.email.missing": (
        "Enter the person's school email address in your SIS (or in Clever's staff upload for staff) so "
        "Clever syncs it; without it they cannot receive notifications or be matched to an existing "
        "Smart Futures account."
    ),
    "record.id.invalid": (
        "Clever ids are 24 characters 0-9 and a-f, assigned by Clever; a record whose id is anything "
        "else cannot be stored. This usually means a broken custom integration or a hand edit of "
        "Clever data: contact Clever support (or your SIS vendor) with the record named in the "
        "finding. The record is imported with the next sync once its id is valid."
    ),
    "district.sync_stale": (
        "The district's data in Clever is frozen: Clever's own sync from the SIS is in error, or has "
        "not run for days, so tonight's roster is the one Clever last received. In Clever, open Sync "
        "(clever.com > Sync) to see the error and fix the SIS export or the sync settings, then run a "
        "sync (Sync > Sync now). During Clever's summer pause this is expected and ends when the "
        "pause ends; nothing needs to be done in Smart Futures."
    ),
    "school.not_licensed": (
        "Nothing is wrong with this school's data: it is not one of the schools your district "
        "licensed with Smart Futures, so its students, teachers and sections are not imported (a "
        "teacher who also works at a licensed school keeps that school). If the school should use "
        "Smart Futures, ask Smart Futures to add it to your licence. If not, you can remove it from "
        "the Smart Futures sharing rules so its data is no longer shared: in Clever, Applications > "
        "Smart Futures > Sharing."
    ),
    "school.licensed_not_shared": (
        "Your district licensed this school (the finding names its NCES id) but shares no school "
        "with that NCES id, so nobody from it can use Smart Futures. Add the school, with all of its "
        "students, teachers and sections, to the Smart Futures sharing rules: in Clever, Applications "
        "> Smart Futures > Sharing. If the school is shared already, its NCES id is missing or "
        "different in your SIS (see that school's own finding): correct it there. The next nightly "
        "sync imports the school."
    ),
    "student.birth_date.missing": (
        "Enter the student's date of birth in your SIS. In Clever it syncs as the student's dob: if "
        "your SIS holds it but Clever shows none, map the birth date field in Clever's Sync settings. "
        "The student was imported without it."
    ),
    "student.graduation_year.missing": (
        "Enter the student's expected graduation year (four digits, e.g. 2031) in your SIS. In "
        "Clever it syncs as graduation_year: map it in Clever's Sync settings if your SIS holds it. "
        "The student was imported without it."
    ),
    "student.zip.missing": (
        "Enter the student's home ZIP code (5 digits) in your SIS. In Clever it syncs as the "
        "student's location zip: map the address ZIP in Clever's Sync settings. The student was "
        "imported without it."
    ),
}

FAILURE_ADVICE: dict[str, str] = {
    "disconnected": (
        "Clever no longer gives Smart Futures access to this district. If the district disconnected "
        "the app on purpose, nothing needs to be done; otherwise ask its Clever administrator to "
        "reconnect Smart Futures (Applications > Smart Futures)."
    ),
    "source_error": (
        "Clever answered with errors or did not answer after several retries. This is usually "
        "temporary; tomorrow's nightly sync tries again. If it fails two nights in a row, check "
        "status.clever.com and contact Clever support with the district id."
    ),
    "key_refused": (
        "Clever refused RosterSync's credentials: compare the client_id and client_secret in the "
        "Clever credentials secret (CLEVER_SECRET_ID) with the Smart Futures app in Clever and "
        "correct them."
    ),
    "settings_invalid": (
        "RosterSync's own settings for Clever are not usable (the reason names what is wrong): "
        "correct the Clever credentials secret (CLEVER_SECRET_ID) as the reason says."
    ),
    "protocol_error": (
        "Clever answered, but with data RosterSync cannot read. Tomorrow's sync tries again; if it "
        "fails again, send this e-mail to the RosterSync engineers."
    ),
    "storage_error": (
        "RosterSync could not write the fetched pages to its S3 bucket. This is on our side: send "
        "this e-mail to the RosterSync engineers."
    ),
    "internal_error": (
        "RosterSync failed unexpectedly. Send this e-mail to the RosterSync engineers; the run id "
        "finds the logs."
    ),
}

WORDING = Wording(
    display_name="Clever",
    id_label="Clever id",
    record_id_label="Clever id",
    state_id_field="Clever state_id",
    sharing=f"in Clever ({_SHARING})",
    fixes=FIXES,
    failure_advice=FAILURE_ADVICE,
    sync_stale=(
        "Clever's sync of this district is in error.",
        "Clever last synced this district {days} days before tonight's fetch{paused}; ",
    ),
    paused=" (Clever's sync is paused)",
    deletions_missing="Tonight's Clever roster",
    deletions_check=(
        "  Check the district's sharing rules for Smart Futures in Clever (Applications > Smart Futures",
        "  > Sharing).",
    ),
    pause_ended=(
        "  The district left Clever's pause on {date}{ago}. Clever freezes a",
        "  district's data during its pause and releases the new school year all at once when it ends.",
    ),
    archived_where="Clever",
    reshare=(
        "  If not (for example a school, grade or page missing from the district's Clever share), ask the",
        "  district to check its sharing rules in Clever (Applications > Smart Futures > Sharing); the",
        "  records return with the next nightly sync after Clever shares them again. The run's change",
        "  set names each archived record by Clever id (`rostersync status --district` shows its key).",
    ),
    reconnect=(
        "is deleted. If the disconnection was not intended, ask the district's Clever administrator",
        "to reconnect Smart Futures (Applications > Smart Futures). You will not get this e-mail",
        "again for this district unless it reconnects and disconnects again.",
    ),
    gone_from_list="Clever no longer lists a token for this district.",
    disconnect_reasons={
        "no token": "Clever lists no token for this district.",
        "HTTP 404": "Clever answers 404 Not Found for the district itself (/v3.0/districts/<id>).",
    },
    default_disconnect_reason="Clever refused the district's token (revoked or the app was disconnected).",
    not_listed="Clever lists no token for this district",
)
