// Each view's own copy of the selection, passed on only when a field the view shows (dashapp.views.View
// .depends_on, and the token where it has a mark) changes: a token click then asks the server nothing for
// the views that show no token, where each answer, even "nothing changed", was a request and a pass of
// Dash's renderer (50-100 ms of main thread at 512 tokens).
window.dash_clientside = Object.assign({}, window.dash_clientside, {
    interpboard: Object.assign({}, (window.dash_clientside || {}).interpboard, {
        // before[i]: what view i has; fields[i]: the fields it shows
        passOn: function (selection, before, fields) {
            return fields.map((shown, i) => {
                const same = (f) => JSON.stringify((selection || {})[f]) === JSON.stringify((before[i] || {})[f]);
                return before[i] && shown.every(same) ? window.dash_clientside.no_update : selection;
            });
        },
    }),
});
