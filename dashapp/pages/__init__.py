"""One module per page; `components` holds the pieces they share."""
