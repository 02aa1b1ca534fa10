// The token strip in the browser: a click selects its token, and the selection mark moves, without a server
// round trip. The buttons have no Dash ids: one listener hears them all and writes the click to a store. At
// 512 tokens, 512 pattern-matching ids made every click a 170 ms pass of Dash's renderer, and a server Patch
// of the strip's children a pass of over a second.
document.addEventListener("click", (event) => {
    const button = event.target.closest && event.target.closest("#analyze-token-strip .token-strip > button");
    if (button && window.dash_clientside && window.dash_clientside.set_props) {
        const click = {index: Number(button.dataset.token), n: (window.__interpboardClicks = (window.__interpboardClicks || 0) + 1)};
        window.dash_clientside.set_props("analyze-token-click", {data: click});
    }
});
window.dash_clientside = Object.assign({}, window.dash_clientside, {
    interpboard: Object.assign({}, (window.dash_clientside || {}).interpboard, {
        // a token button's click -> the selection with that token (dashapp.pages.analyze.selecting), and in
        // mask mode the click for the server, which masks the token's word and runs again
        selectToken: function (click, selection, maskMode) {
            const no = window.dash_clientside.no_update;
            if (!click || !Number.isInteger(click.index)) {
                return [no, no];
            }
            const masked = maskMode ? click : no;
            if (selection && selection.token === click.index) {
                return [no, masked];
            }
            return [Object.assign({}, selection || {}, {token: click.index}), masked];
        },
        // the selection -> the mark on its button, set on the DOM: React leaves a class name alone until the
        // server draws the strip anew (a method, an analysis), and then draws it with the same selection.
        // Not set_props: it re-indexes the pattern-matching buttons, and a later click's trigger was
        // reported as another button's.
        markToken: function (selection, stripId) {
            const strip = document.getElementById(stripId);
            if (!strip) {
                return window.dash_clientside.no_update;
            }
            const token = selection && Number.isInteger(selection.token) ? selection.token : null;
            const buttons = strip.querySelectorAll(".token-strip > button");
            strip.querySelectorAll(".token-strip > button.token-selected").forEach((button) => {
                if (button !== buttons[token]) {
                    button.classList.remove("token-selected");
                }
            });
            if (token !== null && token < buttons.length) {
                buttons[token].classList.add("token-selected");
            }
            return "";
        },
    }),
});
