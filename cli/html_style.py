"""The look the staff pages share (preview, cohort report): inline CSS, nothing fetched."""

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 8px}
.meta{color:#555;font-size:13px}.legend span{display:inline-block;margin-right:14px;font-size:12px}
.legend i{display:inline-block;width:10px;height:10px;margin-right:4px;vertical-align:middle}
table{border-collapse:collapse;font-size:12px}
td,th{border-bottom:1px solid #eee;padding:3px 8px;text-align:left}
th{background:#fafafa;position:sticky;top:0}td.n{text-align:right}svg text{font-size:10px;fill:#555}
"""
