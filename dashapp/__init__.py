"""The Dash dashboard: pages, figures and callbacks over the job layer (never imports torch)."""
