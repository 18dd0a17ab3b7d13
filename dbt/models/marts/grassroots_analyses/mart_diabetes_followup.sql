-- 2型糖尿病患者健康管理: year x family doctor team (the team of the patient's latest follow-up in the
-- year).  Patients: diabetes patients (record flag or diagnosis, see int_residents_enriched) aged
-- >= 35 at year end.  managed = >= 1 follow-up in the year; standard = >= 4 follow-ups of which
-- >= 4 face to face (clinic/home); controlled = latest follow-up fasting_glucose < 7.0 mmol/L.
{{ chronic_followup_by_team('diabetes') }}
