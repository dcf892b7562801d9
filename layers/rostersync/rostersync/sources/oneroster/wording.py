"""How reports and alerts speak of ClassLink (OneRoster) and of what a district changes there;
`provider_wording` says the same of another OneRoster provider (a tenant's `provider`)."""

from __future__ import annotations

import dataclasses
import functools
import re
import textwrap

from rostersync.sources.oneroster.resources import DEFAULT_PROVIDER
from rostersync.sources.profile import Wording

_SHARING = "Roster Server > Smart Futures > sharing rules"

FIXES: dict[str, str] = {
    "district.empty": (
        "In ClassLink Roster Server, open the Smart Futures app's sharing rules and share the schools "
        "that use Smart Futures with all of their students, teachers and classes. Nothing is imported "
        "until at least one school and its students are shared; the next nightly sync picks them up."
    ),
    "record.malformed": (
        "Fill in the missing field (named in the finding) for this record in your SIS: people need a "
        "first and last name, students and teachers a school, classes a title and a school, schools a "
        "name. Then let ClassLink Roster Server sync from your SIS, or wait for the nightly sync. If "
        "the field is filled in your SIS, check its mapping in Roster Server."
    ),
    "school.nces_id.missing": (
        "Enter the school's 12-digit NCES school id (it starts with 42 in Pennsylvania; look it up at "
        "nces.ed.gov/ccd/schoolsearch) in your SIS's school record, so that ClassLink Roster Server "
        "shares it as the school org's identifier. The school and all its students, teachers and "
        "classes are held back until it is set."
    ),
    "school.nces_id.format": (
        "A school's NCES id has exactly 12 digits: the 7-digit district NCES id followed by the 5-digit "
        "school number. A 7-digit value is your district's NCES id, not the building's. Correct the "
        "school org's identifier in your SIS (ClassLink Roster Server shares it from there); you can "
        "find the right value at nces.ed.gov/ccd/schoolsearch."
    ),
    "school.nces_id.not_pa": (
        "Pennsylvania school NCES ids start with 42. Check the NCES id of this school at "
        "nces.ed.gov/ccd/schoolsearch and correct the school org's identifier in your SIS. The school "
        "was imported as it is."
    ),
    "school.nces_id.duplicate": (
        "Each building has its own 12-digit NCES id. Give each of these school orgs its own NCES id in "
        "your SIS. If they are really one building, merge them in your SIS or share only one of them "
        "with Smart Futures in ClassLink (Roster Server > Smart Futures > sharing rules)."
    ),
    "school.no_students": (
        "In ClassLink Roster Server, edit the Smart Futures sharing rules so this school is shared "
        "with all of its students. If the school has no students in your SIS, remove it from the "
        "sharing rules."
    ),
    "school.no_teachers": (
        "In ClassLink Roster Server, edit the Smart Futures sharing rules so this school is shared "
        "with all of its teachers. Teachers need their accounts to see their students' career plans."
    ),
    "school.no_sections": (
        "In ClassLink Roster Server, edit the Smart Futures sharing rules so this school is shared "
        "with all of its classes. Without classes teachers cannot see which students are theirs."
    ),
    "student.state_id.missing": (
        "In your SIS, fill in the PA Secure ID (10 digits) for this student; ClassLink Roster Server "
        "shares it as the user metadata field PASECUREID. If your SIS holds it but the field is empty, "
        "check PASECUREID's mapping in Roster Server."
    ),
    "student.state_id.format": (
        "A PA Secure ID is exactly 10 digits (0-9), with no letters, dashes or spaces, and leading "
        "zeros kept. Correct the PA Secure ID in your SIS. If the PASECUREID field holds another "
        "number (local student number, a 9-digit id, or leading zeros dropped by a spreadsheet), fix "
        "its mapping in ClassLink Roster Server or in your SIS export."
    ),
    "dependent.school_rejected": (
        "Fix the school's own finding first (usually its NCES id); this record is then imported with "
        "the next sync. If the record belongs to a school not shared with Smart Futures, add that "
        "school to the sharing rules in ClassLink (Roster Server > Smart Futures > sharing rules), or "
        "correct the record's school in your SIS."
    ),
    "user.multiple_account_types": (
        "Nothing is lost: the person gets one account, as a teacher if they teach a shared class, "
        "otherwise as staff. If that is the wrong account type, give the person only one role in your "
        "SIS (ClassLink Roster Server shares the roles your SIS holds)."
    ),
    "teacher.no_sections": (
        "Share this teacher's classes with Smart Futures in ClassLink (Roster Server > Smart Futures > "
        "sharing rules), or check their class enrollments in your SIS. If this is a counselor or other "
        "non-teaching staff member, give them a staff role in your SIS instead of a teacher role."
    ),
    "section.no_teacher": (
        "Enroll the teacher of record in this class in your SIS (and make sure that teacher is shared "
        "with Smart Futures in ClassLink), then sync. Without a teacher nobody sees the class's students."
    ),
    "section.unknown_user": (
        "Those people were left out of the class. Share them with Smart Futures in ClassLink "
        "(Roster Server > Smart Futures > sharing rules), or fix their own findings in this report; "
        "they are added back to the class with the next sync."
    ),
    "user.email.missing": (
        "Enter the person's school email address in your SIS so ClassLink Roster Server shares it; "
        "without it they cannot receive notifications or be matched to an existing Smart Futures "
        "account."
    ),
    "record.id.invalid": (
        "A OneRoster sourcedId that Smart Futures stores has 1 to 64 letters, digits, '-' or '_'; a "
        "record whose id is anything else cannot be stored. This usually means a broken custom "
        "integration: contact ClassLink support (or your SIS vendor) with the record named in the "
        "finding. The record is imported with the next sync once its id is valid."
    ),
    "district.sync_stale": (
        "The district's data in ClassLink Roster Server is frozen: its sync from the SIS is in error "
        "or has not run for days, so tonight's roster is the one Roster Server last received. Ask "
        "the district's ClassLink administrator to check the SIS sync in Roster Server; nothing needs "
        "to be done in Smart Futures."
    ),
    "school.not_licensed": (
        "Nothing is wrong with this school's data: it is not one of the schools your district "
        "licensed with Smart Futures, so its students, teachers and classes are not imported (a "
        "teacher who also works at a licensed school keeps that school). If the school should use "
        "Smart Futures, ask Smart Futures to add it to your licence. If not, you can remove it from "
        "the Smart Futures sharing rules so its data is no longer shared: in ClassLink, Roster "
        "Server > Smart Futures > sharing rules."
    ),
    "school.licensed_not_shared": (
        "Your district licensed this school (the finding names its NCES id) but shares no school "
        "with that NCES id, so nobody from it can use Smart Futures. Add the school, with all of its "
        "students, teachers and classes, to the Smart Futures sharing rules: in ClassLink, Roster "
        "Server > Smart Futures > sharing rules. If the school is shared already, its NCES id is "
        "missing or different in your SIS (see that school's own finding): correct it there. The "
        "next nightly sync imports the school."
    ),
    "student.birth_date.missing": (
        "Enter the student's date of birth in your SIS. In ClassLink it reaches Smart Futures through "
        "Demographics (birthDate): in Roster Server, share the demographics with the Smart Futures "
        "app. The student was imported without it."
    ),
    "student.graduation_year.missing": (
        "Enter the student's expected graduation year (four digits, e.g. 2031) in your SIS. In "
        "ClassLink, share it as the user metadata field Graduation_Year with the Smart Futures app in "
        "Roster Server, or share the student's grade (K-12) and the school year's academic session "
        "so it can be derived. The student was imported without it."
    ),
    "student.zip.missing": (
        "Enter the student's home ZIP code (5 digits) in your SIS. In ClassLink, share the student's "
        "ZIP as a user metadata field (zip) with the Smart Futures app in Roster Server, or give the "
        "student's school its ZIP code (school metadata zip), which is used instead. The student was "
        "imported without it."
    ),
    "district.primary_org.missing": (
        "In ClassLink Roster Server, open the Smart Futures app's sharing settings and share the "
        "district itself as the primary org (the org of type district), together with its schools, "
        "students, teachers and classes. Nothing is imported until the district org is shared; the "
        "next nightly sync picks it up."
    ),
    "student.state_id.not_shared": (
        "The PA Secure ID reaches Smart Futures as the user metadata field PASECUREID (any letter "
        "case), or as a user id of type StateID or PASecureID, and a field reaches an app only when "
        "the district enables it for that app. The finding names the metadata fields your students "
        "do carry: if one of them holds the PA Secure ID under another name, rename it to "
        "PASECUREID in ClassLink Roster Server; otherwise add PASECUREID (mapped to the students' PA "
        "Secure ID from your SIS) to the fields shared with the Smart Futures app. Until then every "
        "student is held back (student.state_id.missing)."
    ),
    "user.accounts_joined": (
        "Nothing is lost: these adult accounts (a teacher who is also an administrator, say) share "
        "an e-mail address, a username or a userMasterIdentifier, so Smart Futures imports them as "
        "one person with one sign-in; with OneRoster 1.2, one account may hold several roles, and the "
        "primary role decides how the person is imported. The finding names the accounts or the "
        "roles. If they are different people, give each its own e-mail address and username in your "
        "SIS; the next nightly sync imports them separately. Students are never joined this way."
    ),
    "user.shares_address_with_student": (
        "A student and an adult (often a parent who works at the school, or a family address) carry "
        "the same e-mail address or username. They were imported as two people, but only one of them "
        "can sign in with it. Give the student their own school e-mail address in your SIS (a "
        "placeholder such as noemail@ shared by several students is not one); the next nightly sync "
        "picks it up."
    ),
    "user.not_active": (
        "Nothing needs fixing if these accounts are switched off on purpose: users whose ClassLink "
        "account is disabled (enabledUser false) or whose status is not active are not imported, and "
        "those imported before are archived. If someone here should use Smart Futures, enable the "
        "account (or set it active) in your SIS or in ClassLink; the next nightly sync imports them."
    ),
    "district.birth_dates.not_shared": (
        "Students' dates of birth reach Smart Futures only through OneRoster demographics, which "
        "the district has not shared with the app (ClassLink refused the collection, or no student "
        "has one). The students were imported without them. In ClassLink Roster Server, open the "
        "Smart Futures app's sharing settings and share Demographics (birthDate is enough); the "
        "next nightly sync adds the birth dates."
    ),
    "district.staff.not_shared": (
        "Counselors and administrators use Smart Futures to follow their students, but the district "
        "shares none. ClassLink shares users without classes (counselors, administrators) only when "
        "the district turns that on: in Roster Server, open the Smart Futures app's sharing "
        "settings and share users of role administrator (counselors are shared as administrators), "
        "including users without classes. The next nightly sync imports them as staff."
    ),
}

FAILURE_ADVICE: dict[str, str] = {
    "disconnected": (
        "ClassLink no longer gives Smart Futures access to this district. If the district removed "
        "the app on purpose, nothing needs to be done; otherwise ask its ClassLink administrator to "
        "share the district with the Smart Futures app again (Roster Server > Smart Futures)."
    ),
    "source_error": (
        "The district's OneRoster server (ClassLink Roster Server) answered with errors or did not "
        "answer after several retries. This is usually temporary; tomorrow's nightly sync tries again. "
        "If it fails two nights in a row, ask the district's ClassLink administrator to check the "
        "Smart Futures app in Roster Server, and contact ClassLink support with the tenant's base URL."
    ),
    "key_refused": (
        "The district's OneRoster provider (ClassLink) refused the key RosterSync uses: the consumer key "
        "it signs with (OAuth 1.0a), or, for a tenant with auth oauth2, the client id and secret it asks "
        "the provider's token endpoint for a token with. The Smart Futures app was removed or its key and "
        "secret changed. Compare the tenant's client_id and client_secret (and token_url) with the app in "
        "ClassLink Roster Server or the provider's console and correct them: the tenant is the district's "
        "entry in the OneRoster tenants secret (ONEROSTER_SECRET_ID) or its own tenant secret "
        "(`rostersync tenant show --district` shows which, `rostersync tenant add` replaces it); if the "
        "district removed the app on purpose, remove its tenant (`rostersync tenant remove`)."
    ),
    "settings_invalid": (
        "The district's OneRoster tenant (its entry in the OneRoster tenants secret ONEROSTER_SECRET_ID, "
        "or its own tenant secret) breaks the rule the reason names, so RosterSync cannot connect to "
        "ClassLink for it; the other districts synced. Correct the tenant (`rostersync tenant add "
        "--district ...` checks it before writing it); the next nightly sync uses it."
    ),
    "protocol_error": (
        "The district's OneRoster server answered, but with data RosterSync cannot read. When the "
        "reason starts with listing.incomplete, the server's listing of the collection it names could "
        "not be proved complete (it ended short of its X-Total-Count, or repeated records, or a page "
        "brought nothing new): nothing was imported or archived tonight, so nobody was lost; if it "
        "happens again, contact ClassLink support with the tenant's base URL and the collection. "
        "Tomorrow's sync tries again; otherwise, if it fails again, send this e-mail to the RosterSync "
        "engineers."
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
    display_name=DEFAULT_PROVIDER,
    id_label="ClassLink district id",
    record_id_label="OneRoster sourcedId",
    state_id_field="the PASECUREID field",
    sharing=f"in ClassLink ({_SHARING})",
    fixes=FIXES,
    failure_advice=FAILURE_ADVICE,
    sync_stale=(
        "ClassLink's sync of this district is in error.",
        "ClassLink last synced this district {days} days before tonight's fetch{paused}; ",
    ),
    paused=" (ClassLink's sync is paused)",
    deletions_missing="Tonight's ClassLink roster",
    deletions_check=(
        "  Check the district's sharing rules for Smart Futures in ClassLink (Roster Server > Smart",
        "  Futures > sharing rules).",
    ),
    pause_ended=(
        "  The district's ClassLink sync pause ended on {date}{ago}. A paused district's data is",
        "  frozen and the new school year arrives all at once when the pause ends.",
    ),
    archived_where="ClassLink",
    reshare=(
        "  If not (for example a school, grade or class missing from the district's ClassLink share),",
        "  ask the district to check its sharing rules in ClassLink (Roster Server > Smart Futures >",
        "  sharing rules); the records return with the next nightly sync after ClassLink shares them",
        "  again. The run's change set names each archived record by its OneRoster sourcedId",
        "  (`rostersync status --district` shows its key).",
    ),
    reconnect=(
        "is deleted. If the disconnection was not intended, ask the district's ClassLink administrator",
        "to share the district with the Smart Futures app again (Roster Server > Smart Futures), and",
        "check the district's tenant (`rostersync tenant show --district`). You will",
        "not get this e-mail again for this district unless it reconnects and disconnects again.",
    ),
    gone_from_list=(
        "Neither the OneRoster tenants secret (ONEROSTER_SECRET_ID) nor a tenant secret of its own "
        "lists this district any more."
    ),
    not_listed="no OneRoster tenant (ONEROSTER_SECRET_ID, or a tenant secret of its own) lists this district",
)

# ClassLink's words -> another provider's ("{p}"), in this order: its console's menu paths become
# the app's settings there, every other mention its name.
_PROVIDER_WORDS = (
    ("ClassLink Roster Server", "{p}"),
    ("Roster Server > Smart Futures > sharing rules", "the Smart Futures app's sharing settings"),
    ("Roster Server > Smart Futures", "the Smart Futures app's settings"),
    ("Roster Server", "{p}"),
    ("ClassLink", "{p}"),
)
# Alert lines that are one paragraph, wrapped again after the words change.
_PARAGRAPHS = ("deletions_check", "reshare", "reconnect")


def _reword(text: str, provider: str) -> str:
    for old, new in _PROVIDER_WORDS:
        text = text.replace(old, new.format(p=provider))
    return text


def _rewrap(lines: tuple[str, ...], provider: str) -> tuple[str, ...]:
    indent = re.match(r" *", lines[0]).group()  # type: ignore[union-attr]  # always matches
    width = max(len(line) for line in lines)
    text = _reword(" ".join(line.strip() for line in lines), provider)
    return tuple(textwrap.wrap(text, width, initial_indent=indent, subsequent_indent=indent))


@functools.cache
def provider_wording(provider: str) -> Wording:
    """The wording for a district whose OneRoster tenant names `provider` ("Infinite Campus"):
    ClassLink's, every mention of ClassLink and its Roster Server naming the provider instead."""
    if provider == DEFAULT_PROVIDER:
        return WORDING
    changes: dict[str, object] = {}
    for item in dataclasses.fields(WORDING):
        value = getattr(WORDING, item.name)
        if isinstance(value, str):
            changes[item.name] = _reword(value, provider)
        elif isinstance(value, tuple) and item.name in _PARAGRAPHS:
            changes[item.name] = _rewrap(value, provider)
        elif isinstance(value, tuple):
            changes[item.name] = tuple(_reword(line, provider) for line in value)
        elif isinstance(value, dict):
            changes[item.name] = {k: _reword(v, provider) for k, v in value.items()}
    return dataclasses.replace(WORDING, **changes)  # type: ignore[arg-type]
