"""Streamlit-side helpers shared by app.py and pages/: the app context, the acting user, cached reads."""
