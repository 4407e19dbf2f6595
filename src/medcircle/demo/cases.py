"""The clinical side of the demo referrals: typical cases per Beijing department, and the
routes referrals take between the hospitals of the circle. Everything here is synthetic."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Case:
    """A kind of patient a Beijing department receives from Baoding and sends back."""

    key: str
    # the Beijing department that treats it
    specialty: str
    icd10: str
    diagnosis: str
    child: bool
    ages: tuple[int, int]
    # outpatient, admission, transfer weights
    care: tuple[int, int, int]
    # emergency, urgent, routine weights
    urgency: tuple[int, int, int]
    reason: str
    summary: str
    outcome: str
    follow_up: str
    # departments of the local hospital that send and take back such a patient (first found)
    local: tuple[str, ...]
    # where the Beijing side redirects such a referral when it is not theirs (institution code
    # or "" for the same hospital, specialty)
    redirect: tuple[str, str] | None = None


CASES: tuple[Case, ...] = (
    Case(
        "all",
        "ped_hem_onc",
        "C91.0",
        "Acute lymphoblastic leukaemia",
        True,
        (2, 12),
        (0, 8, 2),
        (1, 6, 3),
        "Suspected acute leukaemia: confirm the diagnosis, risk-stratify and start induction.",
        "Fever and pallor for two weeks, hepatosplenomegaly; blood count shows blasts.",
        "B-ALL, standard risk. Induction completed with complete remission; consolidation "
        "can continue locally under the shared protocol.",
        "Continue consolidation and maintenance chemotherapy under the shared protocol; "
        "blood count twice a week.",
        ("ped_hem_onc", "ped_respiratory"),
    ),
    Case(
        "aplastic",
        "stem_cell_transplant",
        "D61.9",
        "Aplastic anaemia",
        True,
        (3, 14),
        (2, 8, 0),
        (0, 5, 5),
        "Severe aplastic anaemia: assess for stem cell transplant; sibling donor typed.",
        "Transfusion-dependent for three months; marrow hypocellular.",
        "Matched sibling transplant done; engrafted on day 14, no acute GVHD.",
        "Post-transplant follow-up: ciclosporin levels, infection prophylaxis, weekly count.",
        ("ped_hem_onc", "ped_respiratory"),
    ),
    Case(
        "thalassaemia",
        "stem_cell_transplant",
        "D56.1",
        "Beta thalassaemia",
        True,
        (2, 10),
        (3, 7, 0),
        (0, 1, 9),
        "Thalassaemia major: transplant work-up (pooled class-100 rooms).",
        "Monthly transfusions since infancy; ferritin high on chelation.",
        "Transplant completed in a pooled class-100 room; transfusion-independent.",
        "Follow-up after transplant; chelation stopped, monthly review.",
        ("ped_hem_onc", "ped_respiratory"),
    ),
    Case(
        "vsd",
        "ped_cardiology",
        "Q21.0",
        "Ventricular septal defect",
        True,
        (0, 6),
        (5, 5, 0),
        (0, 2, 8),
        "Large VSD with poor weight gain: assessment for closure.",
        "Murmur since birth; echo shows a 7 mm perimembranous VSD, mild pulmonary hypertension.",
        "Transcatheter closure, good result, no residual shunt.",
        "Follow-up echo at 1, 3 and 6 months; aspirin for 6 months.",
        ("ped_respiratory", "neonatology"),
        ("AZH", "ped_cardiology"),
    ),
    Case(
        "tof",
        "ped_cardiology",
        "Q21.3",
        "Tetralogy of Fallot",
        True,
        (0, 2),
        (0, 6, 4),
        (1, 5, 4),
        "Tetralogy of Fallot with cyanotic spells: surgical repair.",
        "Cyanosis on crying, SpO2 78 %; echo confirms tetralogy.",
        "Complete repair; recovery uneventful.",
        "Wound and growth review; echo at 3 months.",
        ("neonatology", "ped_respiratory"),
        ("AZH", "ped_cardiology"),
    ),
    Case(
        "kawasaki",
        "ped_cardiology",
        "M30.3",
        "Kawasaki disease",
        True,
        (1, 5),
        (3, 7, 0),
        (1, 7, 2),
        "Kawasaki disease with coronary dilatation on echo.",
        "Fever for six days, rash, conjunctivitis; IVIG given, coronary Z-score 3.",
        "Coronary aneurysm regressing; aspirin continued.",
        "Echo at 6 and 12 weeks; aspirin until told otherwise.",
        ("ped_respiratory",),
    ),
    Case(
        "epilepsy",
        "ped_neurology",
        "G40.9",
        "Epilepsy",
        True,
        (1, 13),
        (7, 3, 0),
        (0, 3, 7),
        "Drug-resistant epilepsy: video EEG and surgical evaluation.",
        "Seizures weekly despite two drugs; MRI normal.",
        "Video EEG localised the focus; medication adjusted, seizures reduced.",
        "Seizure diary, drug levels in 4 weeks.",
        ("ped_neurology", "ped_respiratory"),
    ),
    Case(
        "nephrotic",
        "ped_nephrology",
        "N04.9",
        "Nephrotic syndrome",
        True,
        (2, 12),
        (4, 6, 0),
        (0, 3, 7),
        "Steroid-resistant nephrotic syndrome: biopsy and second-line therapy.",
        "Proteinuria persists after eight weeks of prednisone.",
        "Biopsy: minimal change; tacrolimus started, partial remission.",
        "Urine dipstick daily, tacrolimus level in 2 weeks.",
        ("ped_respiratory", "general_practice"),
    ),
    Case(
        "hirschsprung",
        "ped_surgery",
        "Q43.1",
        "Hirschsprung disease",
        True,
        (0, 3),
        (0, 10, 0),
        (0, 3, 7),
        "Suspected Hirschsprung disease: biopsy and pull-through.",
        "Delayed meconium, chronic constipation, contrast enema with transition zone.",
        "Transanal pull-through; feeding well.",
        "Bowel habit review and dilatation teaching for the parents.",
        ("ped_surgery", "neonatology", "ped_respiratory"),
    ),
    Case(
        "wilms",
        "ped_surgery",
        "C64",
        "Wilms tumour",
        True,
        (1, 6),
        (0, 9, 1),
        (0, 7, 3),
        "Abdominal mass, suspected Wilms tumour.",
        "Painless abdominal mass; ultrasound shows a renal tumour.",
        "Nephrectomy and chemotherapy started; stage II.",
        "Continue chemotherapy cycles locally; imaging every 3 months.",
        ("ped_surgery", "ped_hem_onc", "ped_respiratory"),
    ),
    Case(
        "preterm",
        "neonatology",
        "P07.3",
        "Preterm infant",
        True,
        (0, 0),
        (0, 3, 7),
        (4, 5, 1),
        "Preterm infant, 29 weeks, needing level III neonatal care.",
        "Born at 29 weeks, 1,250 g; surfactant given; on CPAP.",
        "Weaned off respiratory support; feeding and gaining weight.",
        "Growth, eye screening for retinopathy and developmental follow-up.",
        ("neonatology",),
    ),
    Case(
        "rds",
        "neonatology",
        "P22.0",
        "Respiratory distress syndrome of newborn",
        True,
        (0, 0),
        (0, 2, 8),
        (6, 4, 0),
        "Newborn with respiratory distress failing CPAP.",
        "Grunting and rising oxygen need from birth; chest film typical of RDS.",
        "Ventilated for four days; extubated and stable.",
        "Feeding and weight checks; development review at 3 months.",
        ("neonatology",),
    ),
    Case(
        "bronchiectasis",
        "ped_respiratory",
        "J47",
        "Bronchiectasis",
        True,
        (3, 14),
        (6, 4, 0),
        (0, 2, 8),
        "Recurrent pneumonia with bronchiectasis on CT: work-up for the cause.",
        "Five pneumonias in two years; chronic wet cough.",
        "Work-up done: primary ciliary dyskinesia; airway clearance plan set.",
        "Daily airway clearance and sputum cultures every 3 months.",
        ("ped_respiratory",),
    ),
    Case(
        "severe_pneumonia",
        "ped_icu",
        "J96.0",
        "Acute respiratory failure",
        True,
        (0, 8),
        (0, 2, 8),
        (8, 2, 0),
        "Severe pneumonia with respiratory failure, needs intensive care transfer.",
        "Rising oxygen need, PaCO2 65 mmHg on non-invasive support.",
        "Ventilated for six days; recovered.",
        "Completion of antibiotics and a chest review in 2 weeks.",
        ("ped_respiratory", "ped_icu", "emergency"),
    ),
    Case(
        "crohn",
        "ped_gastro",
        "K50.9",
        "Crohn disease",
        True,
        (8, 15),
        (5, 5, 0),
        (0, 3, 7),
        "Suspected inflammatory bowel disease: endoscopy and treatment plan.",
        "Weight loss, abdominal pain and bloody stools for four months.",
        "Crohn disease confirmed; exclusive enteral nutrition, then azathioprine.",
        "Nutrition, growth and blood count every 4 weeks.",
        ("ped_gastro", "ped_respiratory", "general_practice"),
        ("", "ped_surgery"),
    ),
    # adults, to the other Beijing partners
    Case(
        "aneurysm",
        "neurosurgery",
        "I67.1",
        "Cerebral aneurysm, unruptured",
        False,
        (35, 70),
        (2, 8, 0),
        (0, 4, 6),
        "Unruptured intracranial aneurysm found on imaging: treatment decision.",
        "Headaches; CTA shows a 7 mm aneurysm.",
        "Endovascular coiling; no complications.",
        "Blood pressure control; imaging at 6 months.",
        ("neurosurgery", "neurology", "general_practice"),
    ),
    Case(
        "stroke_rehab",
        "neurology",
        "I63.9",
        "Cerebral infarction",
        False,
        (50, 82),
        (3, 7, 0),
        (1, 6, 3),
        "Recurrent stroke despite treatment: assessment for intervention.",
        "Second ischaemic stroke in a year; carotid stenosis suspected.",
        "Carotid stenting done; secondary prevention adjusted.",
        "Rehabilitation and risk-factor control near home.",
        ("neurology", "rehabilitation", "general_practice"),
    ),
    Case(
        "hip_fracture",
        "orthopaedics",
        "S72.0",
        "Fracture of neck of femur",
        False,
        (60, 88),
        (0, 8, 2),
        (2, 7, 1),
        "Displaced femoral neck fracture: arthroplasty.",
        "Fall at home; displaced fracture on X-ray.",
        "Hip replacement; walking with a frame.",
        "Rehabilitation, wound check, anticoagulation for 5 weeks.",
        ("orthopaedics", "rehabilitation", "general_practice"),
    ),
    Case(
        "scoliosis",
        "orthopaedics",
        "M41.1",
        "Juvenile idiopathic scoliosis",
        True,
        (10, 16),
        (4, 6, 0),
        (0, 1, 9),
        "Progressive scoliosis: assessment for surgery.",
        "Cobb angle 48 degrees and progressing.",
        "Posterior fusion; good correction.",
        "Physiotherapy and X-ray at 3 months.",
        ("orthopaedics", "rehabilitation", "ped_respiratory"),
    ),
    Case(
        "retina",
        "ophthalmology",
        "H33.0",
        "Retinal detachment",
        False,
        (30, 70),
        (3, 7, 0),
        (3, 6, 1),
        "Retinal detachment: vitrectomy.",
        "Sudden loss of vision in the right eye; detachment on examination.",
        "Vitrectomy with gas; retina attached.",
        "Posture and eye-drop plan; review in 1 and 4 weeks.",
        ("ophthalmology", "general_practice"),
    ),
    Case(
        "hearing",
        "ent",
        "H90.3",
        "Sensorineural hearing loss, bilateral",
        True,
        (1, 6),
        (6, 4, 0),
        (0, 1, 9),
        "Profound hearing loss: cochlear implant assessment.",
        "Failed newborn screening; no response on ABR.",
        "Cochlear implant fitted; switched on.",
        "Speech therapy and device checks.",
        ("ent", "general_practice"),
    ),
    Case(
        "gastritis",
        "gastroenterology",
        "K29.5",
        "Chronic gastritis",
        False,
        (40, 75),
        (10, 0, 0),
        (0, 1, 9),
        "Chronic gastritis with intestinal metaplasia: specialist review.",
        "Epigastric pain for a year; biopsy shows metaplasia.",
        "Treatment plan set; endoscopic surveillance planned.",
        "TCM and medication follow-up; endoscopy in a year.",
        ("gastroenterology", "tcm"),
    ),
    Case(
        "neonatal_obs",
        "neonatology",
        "P59.9",
        "Neonatal jaundice",
        True,
        (0, 0),
        (2, 8, 0),
        (2, 6, 2),
        "Prolonged jaundice in a newborn: work-up.",
        "Jaundice beyond three weeks; conjugated bilirubin raised.",
        "Work-up done; jaundice resolving on treatment.",
        "Bilirubin check in 1 week and growth review.",
        ("neonatology",),
    ),
)
CASE_BY_KEY: dict[str, Case] = {c.key: c for c in CASES}


@dataclass(frozen=True)
class Route:
    """Referrals between two hospitals (or one side and the county hospitals: "COUNTY")."""

    local: str
    beijing: str
    cases: tuple[str, ...]
    weight: int


CHILD_CASES = (
    "all",
    "aplastic",
    "thalassaemia",
    "vsd",
    "tof",
    "kawasaki",
    "epilepsy",
    "nephrotic",
    "hirschsprung",
    "wilms",
    "preterm",
    "rds",
    "bronchiectasis",
    "severe_pneumonia",
    "crohn",
)
COUNTY = "COUNTY"

# Up to Beijing: mostly children to Beijing Children's Hospital, from its trusteeship hospital
# and from county hospitals of the paediatric alliance.
UP_ROUTES: tuple[Route, ...] = (
    Route("BDCH", "BCH", CHILD_CASES, 54),
    Route(COUNTY, "BCH", CHILD_CASES, 22),
    Route("BDCH", "AZH", ("tof",), 2),
    Route("BD1C", "TTH", ("aneurysm", "stroke_rehab"), 9),
    Route("BD2C", "JSTH", ("hip_fracture", "scoliosis"), 6),
    Route("HBUAH", "BTRH", ("retina", "hearing"), 4),
    Route("BDMCH", "BOGH", ("neonatal_obs",), 2),
    Route("BDTCM", "BJTCM", ("gastritis",), 1),
)

# Down to local hospitals: patients treated in Beijing who go home for follow-up.
DOWN_ROUTES: tuple[Route, ...] = (
    Route("BDCH", "BCH", CHILD_CASES, 50),
    Route(COUNTY, "BCH", CHILD_CASES, 18),
    Route("BD1C", "TTH", ("aneurysm", "stroke_rehab"), 11),
    Route("BD1C", "XWH", ("stroke_rehab",), 3),
    Route("BD2C", "JSTH", ("hip_fracture", "scoliosis"), 9),
    Route("HBUAH", "BTRH", ("retina", "hearing"), 4),
    Route("BDMCH", "BOGH", ("neonatal_obs",), 3),
    Route("BDTCM", "BJTCM", ("gastritis",), 2),
)

# What the Beijing departments tell families to bring to the appointment.
WHAT_TO_BRING = (
    "ID card or household register, previous imaging on disc, the referral letter, the "
    "medical insurance card",
    "All discharge summaries, current medicines in their boxes, the insurance card",
    "Blood test results of the last month, imaging, the child's vaccination booklet",
)
DECLINE_REASONS = (
    "Can be managed at Beijing Children's Hospital Baoding Hospital under the trusteeship; "
    "plan sent to the local team.",
    "Not indicated for transfer at present; advice given, re-refer if no improvement.",
)
CANCEL_REASONS = (
    "The family chose to stay with the local hospital.",
    "The patient improved; referral no longer needed.",
    "The family went to another hospital on their own.",
)
REDIRECT_REASONS = (
    "Better served by the specialist team named; referral passed on.",
    "This case belongs to another department; passed on with the same urgency.",
)
OUTSIDE_NETWORK_REASONS = (
    "Only Beijing Children's Hospital treats this condition; the alliance lead advised a "
    "direct referral.",
    "Specialist care not available in the network; the family asked for this hospital.",
    "Continuity with the team that treated the patient before.",
)
