-- 高血压患者健康管理 by community of residence (year x community): same definitions as
-- mart_hypertension_followup, plus the patients known to the warehouse (>= 35, with or without a
-- follow-up) as a registered-patient denominator.
{{ chronic_followup_by_community('hypertension') }}
