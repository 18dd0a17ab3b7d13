"""Every rate, share and mean the activity simulation draws from, each with its source.

Published figures are cited as "place year: figure" (the calibration table in the README lists the
ones the demo region is tested against).  Fields marked *assumed* have no published figure: they
were set to look plausible or so that a published figure elsewhere comes out right, as their
comment says.  Visit classes are (grassroots, level-1/unrated hospital, level-2, level-3); contract
age bands are 0-6, 7-17, 18-44, 45-59, 60-64, 65-79, 80+.  Money is in yuan unless a name says fen.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Inpatient tables are keyed by hospital level (0-3) or "centre" (community/township centres).
Level = int | str


@dataclass(frozen=True)
class Calibration:
    # ---- outpatient volume -----------------------------------------------------------------------
    # national: about 6 outpatient visits per person per year
    visits_per_year: float = 6.0
    # assumed: relative visit rate by contract age band, U-shaped (small children and the old)
    visit_rate_by_age_band: tuple[float, ...] = (1.6, 0.7, 0.7, 1.0, 1.4, 1.8, 2.0)
    # assumed: extra visit rate per chronic disease (hypertension, diabetes)
    visit_rate_per_chronic_disease: float = 0.5
    # health surveys: about a quarter of residents without a visit in a year, which a gamma
    # propensity of shape 0.5 gives (a plain Poisson at 6 a year would leave almost nobody out)
    visit_propensity_shape: float = 0.5
    # assumed: chronic patients come back for their prescriptions, so their propensity varies less
    chronic_propensity_shape: float = 4.0

    # ---- where residents go ----------------------------------------------------------------------
    # Hangzhou 2016: 64.67 % of signed residents' visits at grassroots institutions, 48.50 % of
    # unsigned residents' (over a year, after the weekend and holiday dips)
    grassroots_share_signed: float = 0.6467
    grassroots_share_unsigned: float = 0.485
    # national 2014: tertiary hospitals 47.1 % of hospital visits, level-1/unrated 10.8 %, level-2
    # the rest (hospital classes 1..3)
    hospital_split: tuple[float, ...] = (0.108, 0.421, 0.471)
    # assumed: rural residents mostly stay in their county (医共体 goal: ~90 % of visits in the
    # county), urban ones use the city's tertiary hospitals more, so the city-wide tertiary share
    # stays at national 2014's 47 % of hospital visits
    hospital_split_urban: tuple[float, ...] = (0.108, 0.30, 0.592)
    hospital_split_rural: tuple[float, ...] = (0.108, 0.642, 0.25)
    # Shanghai 2016: > 45 % of residents signed; the share of signed visits the daily thinning is
    # normalised with
    signed_visit_share: float = 0.45
    # assumed: a level-2 / level-1 hospital outside the resident's district weighs this much of
    # one inside it (tertiary hospitals serve the whole city)
    other_district_weight_level2: float = 0.03
    other_district_weight_level1: float = 0.02
    # assumed: a psychiatric hospital's outpatient draw per bed relative to a general one
    psychiatric_outpatient_weight: float = 0.15
    # assumed: grassroots visits made at the community's own station or village clinic
    station_share: float = 0.4
    # assumed: grassroots visits not at the home centre's station made at another centre of the
    # district
    other_centre_share: float = 0.07

    # ---- the visit -------------------------------------------------------------------------------
    # assumed: emergency visits among hospital / grassroots visits
    emergency_share_hospital: float = 0.07
    emergency_share_grassroots: float = 0.005
    # assumed: home visits among grassroots visits by residents 65+
    home_visit_share_65plus: float = 0.02
    # assumed: chronic patients are mostly seen for their condition: share of visits coded
    # hypertension (hospital, grassroots), diabetes (hospital, grassroots), pregnancy care
    hypertension_visit_share: tuple[float, float] = (0.30, 0.50)
    diabetes_visit_share: tuple[float, float] = (0.30, 0.45)
    pregnancy_visit_share: float = 0.5
    # assumed: a resident's id card number is on the visit record
    visit_id_card_share: float = 0.9

    # ---- prescriptions ---------------------------------------------------------------------------
    # assumed: visits with a prescription, by visit class
    rx_share: tuple[float, ...] = (0.78, 0.62, 0.58, 0.55)
    # assumed: share of prescriptions with 1, 2, 3, 4 lines
    rx_lines: tuple[float, ...] = (0.40, 0.35, 0.18, 0.07)
    # Shanghai, Changsha: stable chronic patients get 1-2 months of drugs (long prescriptions);
    # assumed: the share of chronic lines that are long, by visit class, and the days drawn
    long_rx_share: tuple[float, ...] = (0.60, 0.35, 0.35, 0.30)
    long_rx_days: tuple[int, ...] = (28, 30, 30, 56, 60, 60, 84, 90)
    # assumed: days of drugs on an ordinary chronic line and on an acute line, units per day
    chronic_rx_days: tuple[int, ...] = (7, 14, 14, 21)
    acute_rx_days: tuple[int, ...] = (1, 2, 3, 3, 5, 5, 7)
    rx_units_per_day: tuple[int, ...] = (1, 1, 1, 2, 2, 3)
    # Shanghai: > 270 000 extended prescriptions (延伸处方) issued; assumed: share of grassroots
    # chronic lines
    extended_rx_share: float = 0.12

    # ---- outpatient fees -------------------------------------------------------------------------
    # national 2014: outpatient cost per visit at tertiary hospitals 53.3 % above secondary ones,
    # 192 % above community centres (330 = 1.533 x 215 = 2.92 x 113), by visit class
    visit_mean_yuan: tuple[float, ...] = (113.0, 150.0, 215.0, 330.0)
    # assumed: log-normal spread of a visit's cost, and its floor in fen
    visit_cost_sigma: float = 0.7
    visit_cost_min_fen: int = 500
    # Zhenjiang: a home visit costs 40 CNY (in fen)
    home_visit_fee_fen: int = 4000
    # assumed: drug share of a visit with a prescription (mean by visit class, sd, bounds)
    drug_share: tuple[float, ...] = (0.62, 0.45, 0.40, 0.35)
    drug_share_sd: float = 0.12
    drug_share_bounds: tuple[float, float] = (0.05, 0.95)
    # assumed: the rest is exam (this share of it), treatment (this share of what is left), other
    exam_share: tuple[float, float] = (0.3, 0.6)
    treatment_share: tuple[float, float] = (0.4, 0.8)
    # assumed: insurance share of a visit's cost (hospital, grassroots mean; sd; bounds): the
    # grassroots reimbursement rate is higher
    insured_share: tuple[float, float] = (0.55, 0.68)
    insured_share_sd: float = 0.1
    insured_share_bounds: tuple[float, float] = (0.0, 0.95)

    # ---- referrals -------------------------------------------------------------------------------
    # assumed: upward referrals per visit by the sender's rank (grassroots, unrated, level 1, 2, 3)
    up_referral_share: tuple[float, ...] = (0.020, 0.012, 0.012, 0.006, 0.0)
    # Changsha 2015: 467 referrals down vs 2 919 up, so ≈ 16 % of referrals go down
    down_share: float = 0.16
    # assumed: an upward referral from below level 2 goes to a level-2 hospital (else level 3)
    up_to_level2_share: float = 0.55
    # assumed: a downward referral from a tertiary hospital goes to a level-2 one (else home centre)
    down_to_level2_share: float = 0.4
    # assumed: cumulative shares of outpatient / inpatient (rest: exam) referrals, up and down
    up_referral_kinds: tuple[float, float] = (0.55, 0.85)
    down_referral_kinds: tuple[float, float] = (0.70, 0.95)
    # assumed: referrals that carry a diagnosis
    referral_diagnosis_share: float = 0.92
    # Shanghai: 50 % of specialist slots released to family doctors; assumed: share of a family
    # doctor's upward referrals that get a priority slot
    priority_slot_share: float = 0.45
    # assumed: a referral's final status: cumulative shares arrived, rejected, cancelled,
    # requested (still open), the rest accepted
    referral_outcomes: tuple[float, ...] = (0.80, 0.85, 0.93, 0.97)
    # assumed: arrivals on the day of the referral; arrivals accepted the next day first
    same_day_arrival_share: float = 0.15
    accepted_first_share: float = 0.5
    # assumed: days [from, to) until an arrival (accepted first: counted from the acceptance),
    # until an answer (accepted, rejected) and until a cancellation
    arrival_days: tuple[int, int] = (1, 7)
    arrival_after_acceptance_days: tuple[int, int] = (1, 6)
    answer_days: tuple[int, int] = (1, 4)
    cancellation_days: tuple[int, int] = (1, 10)

    # ---- wards -----------------------------------------------------------------------------------
    # Beijing: bed utilisation level-1 67 %, suburban level-2 85 %, urban level-2 82 %, level-3
    # 92 %; assumed: community and township centres 60 %
    occupancy: dict[Level, float] = field(
        default_factory=lambda: {3: 0.92, 1: 0.67, 0: 0.67, "centre": 0.60}
    )
    occupancy_level2_urban: float = 0.82
    occupancy_level2_rural: float = 0.85
    # assumed: mean nights per stay by level, and in the psychiatric (15) and rehabilitation (21)
    # departments
    mean_nights: dict[Level, float] = field(
        default_factory=lambda: {3: 8.0, 2: 8.5, 1: 9.0, 0: 9.0, "centre": 10.0}
    )
    department_nights: dict[str, float] = field(default_factory=lambda: {"15": 40.0, "21": 18.0})
    # assumed: gamma shape of a stay's nights, and day cases (discharged the day of admission)
    nights_shape: float = 1.6
    day_case_share: float = 0.03
    # assumed: approved beds per ward (a facility has as many wards as its departments allow)
    beds_per_ward: int = 40
    # assumed: relative admission rate by contract age band
    admission_rate_by_age_band: tuple[float, ...] = (1.0, 0.4, 0.7, 1.0, 1.6, 2.5, 3.5)
    # assumed: days simulated before the window so wards start at their stationary occupancy
    warm_up_days: int = 90
    # assumed: a full ward puts up extra beds (加床) up to this share of its approved beds; beyond
    # it patients wait for a bed, an arrived referral at most referral_wait_days
    extra_beds: float = 1.2
    referral_wait_days: int = 7

    # ---- inpatient fees and outcomes -------------------------------------------------------------
    # assumed: cost per inpatient day by level
    inpatient_day_yuan: dict[Level, int] = field(
        default_factory=lambda: {3: 1800, 2: 1100, 1: 700, 0: 700, "centre": 400}
    )
    # assumed: log-normal (mu, sigma) factor on a stay's cost; drug and insured shares (from, to)
    stay_cost_factor: tuple[float, float] = (-0.08, 0.4)
    stay_drug_share: tuple[float, float] = (0.2, 0.35)
    stay_insured_share: tuple[float, float] = (0.55, 0.78)
    # assumed: cumulative shares cured, improved, transferred, died (the rest: other)
    discharge_outcomes: tuple[float, ...] = (0.25, 0.90, 0.93, 0.945)

    # ---- family-doctor contracts -----------------------------------------------------------------
    # Shanghai 2016: > 45 % of all residents signed; a little above because the census counts
    # people who never appear in care
    signing_target: float = 0.47
    # Hangzhou 2017: 64.19 % of key populations signed
    key_signing: float = 0.64
    # assumed: the least signing rate of the other residents
    min_other_signing: float = 0.05
    # assumed: contracts in force at go-live that renewed an earlier one
    initial_renewal_share: float = 0.7
    # assumed: contracts renewed when they end, and terminated early per year (moved away, died,
    # changed doctor)
    renewal_share: float = 0.85
    terminations_per_year: float = 0.02
    # Zhenjiang's packages free, basic, personalized, check-up (免费包/初级包/个性包/体检包);
    # assumed: their shares, and 60+ residents who take the check-up package instead
    package_shares: tuple[float, ...] = (0.30, 0.45, 0.15, 0.10)
    checkup_package_60plus: float = 0.25
    # Shanghai: > 37 % of 60+ residents in "1+1+1" communities have a district and a city
    # hospital in their contract; assumed: urban 60+, other urban, rural residents
    combo_share_urban_60plus: float = 0.45
    combo_share_urban: float = 0.15
    combo_share_rural: float = 0.05

    # ---- chronic follow-ups ----------------------------------------------------------------------
    # national reports: 60-75 % of hypertension and diabetes patients under standard management;
    # assumed: managed patients (35+) in urban / rural areas, follow-up interval in days and its
    # share, each patient's share of face-to-face follow-ups (from, to)
    managed_from_age: int = 35
    managed_share: tuple[float, float] = (0.80, 0.72)
    followup_intervals: tuple[tuple[int, float], ...] = ((30, 0.15), (60, 0.25), (90, 0.60))
    followup_f2f_share: tuple[float, float] = (0.60, 1.0)
    # assumed: due on a day off, the follow-up waits for a working day; days it drifts (±)
    followup_waits_share: float = 0.85
    followup_drift_days: int = 7
    # assumed: face-to-face at the clinic (else at home), remote by phone (else online)
    clinic_share: float = 0.8
    phone_share: float = 0.7
    # national reports: 55-70 % of the managed are under control; assumed: a patient's control
    # propensity, and the chance a follow-up of a controlled / uncontrolled patient is in control
    controlled_patients: float = 0.62
    in_control: tuple[float, float] = (0.88, 0.22)
    # assumed: blood pressure and glucose (mean, sd) in and out of control
    sbp_controlled: tuple[float, float] = (128, 8)
    sbp_uncontrolled: tuple[float, float] = (154, 12)
    dbp_controlled: tuple[float, float] = (80, 6)
    dbp_uncontrolled: tuple[float, float] = (88, 9)
    glucose_controlled: tuple[float, float] = (6.1, 0.5)
    glucose_uncontrolled: tuple[float, float] = (8.7, 1.6)
    # assumed: blood pressure measured at a diabetes follow-up, glucose at a hypertension one
    bp_at_diabetes_followup: float = 0.5
    glucose_at_hypertension_followup: float = 0.2
    # assumed: cumulative shares of regular / intermittent (rest: no) medication adherence
    adherence: tuple[float, float] = (0.7, 0.92)
    # assumed: follow-ups that end in a referral
    followup_referred: float = 0.015

    # ---- check-ups -------------------------------------------------------------------------------
    # national targets: 65+ health management rate 62-70 %, reported 60-75 %; assumed: adults
    # and children who have a check-up in a year
    checkup_share_65plus: float = 0.75
    checkup_share_adult: float = 0.05
    checkup_share_child: float = 0.01
    # assumed: general (else other) check-ups under 65; elderly check-ups with all 8 items
    general_checkup_share: float = 0.8
    all_items_share_65plus: float = 0.88
    # assumed: (mean, extra with the disease, sd) of sbp / dbp / glucose, and (mean, sd) of BMI
    checkup_sbp: tuple[float, float, float] = (132, 10, 16)
    checkup_dbp: tuple[float, float, float] = (80, 5, 10)
    checkup_glucose: tuple[float, float, float] = (5.4, 2.2, 1.0)
    checkup_bmi: tuple[float, float] = (23.8, 3.4)
    # assumed: mean abnormal findings for residents 65+ / younger
    abnormal_findings: tuple[float, float] = (0.9, 0.4)

    # ---- health records --------------------------------------------------------------------------
    # national target: ≥ 90 % of residents have a health record (建档率); assumed: 65+ / others
    record_share: tuple[float, float] = (0.95, 0.86)
    # assumed: the platform's records go back to this date
    records_since: str = "2010-01-01"
    # assumed: the unregistered register slowly (~15 % a year), per day
    registrations_per_day: float = 0.0005
    # assumed: records updated after a follow-up or check-up, and at random per day (a resident
    # corrects an address, …)
    update_after_service: float = 0.5
    updates_per_day: float = 1 / 900
    # assumed: ~75 % of records complete; the others miss each of the six completeness fields
    # with this chance (at least one); an update fills the missing ones with this chance
    incomplete_records: float = 0.25
    missing_field_share: float = 0.35
    update_fills_share: float = 0.4
    # assumed: a record carries the resident's phone number
    record_phone_share: float = 0.92


CALIBRATION = Calibration()
