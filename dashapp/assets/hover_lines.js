// Hovering a token of a query → key line graph (the attention graph, the head view) shows only that token's
// lines, in the browser: no server round trip, so it stays instant at any length. The figure's line traces
// hold segments [0, 1, null] / [query's y, key's y, null] (dashapp.figures.edge_lines.edge_trace); a
// token marker sits at its token's y, and its x says its side (0: queries, 1: keys). Leaving the token puts
// every line back.
window.dash_clientside = Object.assign({}, window.dash_clientside, {
    interpboard: Object.assign({}, (window.dash_clientside || {}).interpboard, {
        hoverLines: function (hover, id) {
            const outer = document.getElementById(id);
            const gd = outer && outer.querySelector(".js-plotly-plot");
            if (!gd || !gd.data || !window.Plotly) {
                return window.dash_clientside.no_update;
            }
            let saved = gd._interpboardLines;
            // the server drew another figure since: its lines are the ones to keep
            if (saved && (saved.data !== gd.data || saved.traces.some((t, k) => gd.data[t].y !== saved.shown[k]))) {
                saved = null;
            }
            const point = hover && hover.points && hover.points[0];
            const y = point && typeof point.customdata === "number" ? point.y : null;
            if (typeof y !== "number") {
                if (saved) {
                    window.Plotly.restyle(gd, {x: saved.x, y: saved.y}, saved.traces);
                }
                gd._interpboardLines = null;
                return "";
            }
            if (!saved) {
                const traces = [];
                gd.data.forEach((trace, i) => { if (trace.mode === "lines") { traces.push(i); } });
                saved = {
                    data: gd.data,
                    traces: traces,
                    x: traces.map((t) => gd.data[t].x),
                    y: traces.map((t) => gd.data[t].y),
                };
            }
            const side = point.x === 1 ? 1 : 0;
            const xs = [];
            const ys = [];
            saved.traces.forEach((_, k) => {
                const X = saved.x[k];
                const Y = saved.y[k];
                const keptX = [];
                const keptY = [];
                for (let s = 0; s + 1 < Y.length; s += 3) {
                    if (Y[s + side] === y) {
                        keptX.push(X[s], X[s + 1], null);
                        keptY.push(Y[s], Y[s + 1], null);
                    }
                }
                xs.push(keptX);
                ys.push(keptY);
            });
            window.Plotly.restyle(gd, {x: xs, y: ys}, saved.traces);
            saved.shown = saved.traces.map((t) => gd.data[t].y);
            gd._interpboardLines = saved;
            return "";
        },
    }),
});
