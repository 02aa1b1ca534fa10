// A view's token mark (dashapp.views.View.overlay: shapes from the server) moved over the drawn figure with
// Plotly.update: it redraws the shapes only (~20 ms), where a new figure through Plotly.react redraws the
// whole of it (150-250 ms for a 512-token heatmap). Plotly.update, not relayout: a relayout event would
// reach the graph's relayoutData, which a zoomable view reads as a zoom.
window.dash_clientside = Object.assign({}, window.dash_clientside, {
    interpboard: Object.assign({}, (window.dash_clientside || {}).interpboard, {
        moveMark: function (shapes, id) {
            const outer = document.getElementById(id);
            const move = (tries) => {
                const gd = outer && outer.querySelector(".js-plotly-plot");
                if (!gd || !gd._fullLayout || !window.Plotly) {
                    return;
                }
                // a figure being drawn (dcc.Graph marks it pending) would put its own shapes back after ours
                if (gd.classList.contains("dash-graph--pending") && tries > 0) {
                    setTimeout(() => move(tries - 1), 20);
                    return;
                }
                window.Plotly.update(gd, {}, {shapes: shapes || []});
            };
            move(100);
            return "";
        },
    }),
});
