"""Pure figure builders: an Analysis (+ the current selection) in, a plotly Figure out."""
