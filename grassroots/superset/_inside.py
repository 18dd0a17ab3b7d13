"""Runs INSIDE the Superset virtualenv (``.venvs/superset/bin/python _inside.py <action> <json>``).

Do not import this from the pipeline: it needs Superset.  Actions:

* ``import <zip>``: ImportAssetsCommand (overwrite=True for databases, datasets, charts and
  dashboards: a changed chart or dataset in ``dashboards/`` replaces the stored one).
* ``security <config.json>``: roles, row-level-security filters, demo users, dashboard roles.
* ``info``: prints {dashboard slug: id, chart uuid: id} as JSON.
"""

from __future__ import annotations

import json
import sys
import zipfile


def _app():
    from superset.app import create_app

    app = create_app()
    ctx = app.app_context()
    ctx.push()
    from flask import g
    from superset import security_manager

    g.user = security_manager.find_user(username="admin")
    return app


def do_import(zip_path: str) -> None:
    from superset.commands.importers.v1.assets import ImportAssetsCommand
    from superset.commands.importers.v1.utils import get_contents_from_bundle

    with zipfile.ZipFile(zip_path) as bundle:
        contents = get_contents_from_bundle(bundle)
    ImportAssetsCommand(contents).run()
    print("@@JSON " + json.dumps({"imported": len(contents)}))


def _perm(sm, permission: str, view: str):
    pv = sm.find_permission_view_menu(permission, view)
    if pv is None:
        pv = sm.add_permission_view_menu(permission, view)
    return pv


def do_security(cfg_path: str) -> None:
    from superset import db
    from superset import security_manager as sm
    from superset.connectors.sqla.models import RowLevelSecurityFilter, SqlaTable
    from superset.models.dashboard import Dashboard

    with open(cfg_path, encoding="utf-8") as f:
        cfg = json.load(f)

    gamma = sm.find_role("Gamma")
    base = list(gamma.permissions)

    analyst = sm.find_role("commission_analyst") or sm.add_role("commission_analyst")
    analyst.permissions = base + [
        _perm(sm, "all_datasource_access", "all_datasource_access"),
        _perm(sm, "all_database_access", "all_database_access"),
    ]

    rls_tables = [
        t for t in db.session.query(SqlaTable).all() if t.table_name in set(cfg["rls_datasets"])
    ]
    if len(rls_tables) != len(cfg["rls_datasets"]):
        raise SystemExit(f"RLS datasets missing: {cfg['rls_datasets']} vs {[t.table_name for t in rls_tables]}")
    shared = [t for t in db.session.query(SqlaTable).all() if t.table_name in set(cfg["shared_datasets"])]
    table_perms = [_perm(sm, "datasource_access", t.perm) for t in rls_tables + shared]

    manager_roles = []
    wanted_filters = set()
    for h in cfg["hospitals"]:
        role_name = f"hospital_manager_{h['code']}"
        role = sm.find_role(role_name) or sm.add_role(role_name)
        role.permissions = base + table_perms
        manager_roles.append(role)
        fname = f"rls_hospital_{h['code']}"
        wanted_filters.add(fname)
        flt = db.session.query(RowLevelSecurityFilter).filter_by(name=fname).one_or_none()
        if flt is None:
            flt = RowLevelSecurityFilter(name=fname)
            db.session.add(flt)
        flt.filter_type = "Regular"
        flt.clause = "facility_code = '{}'".format(h["code"].replace("'", "''"))
        flt.group_key = "facility"
        flt.description = f"{h['name']}：医院管理者只看本院数据"
        flt.tables = rls_tables
        flt.roles = [role]
    for flt in db.session.query(RowLevelSecurityFilter).filter(
        RowLevelSecurityFilter.name.like("rls_hospital_%")
    ):
        if flt.name not in wanted_filters:
            db.session.delete(flt)

    # dashboards: the hospital dashboard for analysts and managers, the rest for analysts
    for dash in db.session.query(Dashboard).all():
        if dash.slug == cfg["hospital_dashboard_slug"]:
            dash.roles = [analyst, *manager_roles]
        elif dash.slug in cfg["analyst_dashboard_slugs"]:
            dash.roles = [analyst]

    for u in cfg["users"]:
        roles = [sm.find_role(r) for r in u["roles"]]
        user = sm.find_user(username=u["username"])
        if user is None:
            user = sm.add_user(u["username"], u["first_name"], u["last_name"], u["email"], roles,
                               password=u["password"])
            if not user:
                raise SystemExit(f"could not create user {u['username']}")
        else:
            user.roles = roles
            user.active = True
            db.session.merge(user)
            sm.reset_password(user.id, u["password"])
    db.session.commit()
    print("@@JSON " + json.dumps({"roles": 1 + len(manager_roles), "users": len(cfg["users"])}))


def do_info() -> None:
    from superset import db
    from superset.models.dashboard import Dashboard
    from superset.models.slice import Slice

    out = {
        "dashboards": {d.slug: d.id for d in db.session.query(Dashboard).all()},
        "charts": {
            str(s.uuid): {"id": s.id, "viz_type": s.viz_type, "name": s.slice_name,
                          "datasource": s.datasource_name}
            for s in db.session.query(Slice).all()
        },
    }
    print("@@JSON " + json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    action = sys.argv[1]
    _app()
    if action == "import":
        do_import(sys.argv[2])
    elif action == "security":
        do_security(sys.argv[2])
    elif action == "info":
        do_info()
    else:
        raise SystemExit(f"unknown action {action}")
