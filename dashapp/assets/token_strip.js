// The token strip in the browser: a click selects its token, and the selection mark moves, without a server
// round trip. At 512 tokens a server Patch of the strip's children made Dash re-walk all 512 buttons (their
// pattern-matching ids) and fire every callback that takes them as inputs: over a second on the main thread.
window.dash_clientside = Object.assign({}, window.dash_clientside, {
    interpboard: Object.assign({}, (window.dash_clientside || {}).interpboard, {
        // token_button(ALL).n_clicks -> the selection with that token (dashapp.pages.analyze.selecting), and in
        // mask mode the click for the server, which masks the token's word and runs again
        selectToken: function (_clicks, selection, maskMode) {
            const no = window.dash_clientside.no_update;
            const fired = window.dash_clientside.callback_context.triggered;
            if (!fired || fired.length !== 1 || !fired[0].value) {
                return [no, no];  // a strip drawn anew: its buttons arrive with n_clicks 0
            }
            const id = JSON.parse(fired[0].prop_id.slice(0, fired[0].prop_id.lastIndexOf(".")));
            const masked = maskMode ? {index: id.index, n: fired[0].value} : no;
            if (selection && selection.token === id.index) {
                return [no, masked];
            }
            return [Object.assign({}, selection || {}, {token: id.index}), masked];
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
