extension ChatPage {
    /// Light and dark themes (the system's unless the user picks one), a side list of
    /// conversations that folds away on a phone-sized window.
    static let style = #"""
    :root {
      --bg: #ffffff; --fg: #1d1d1f; --muted: #6b6b70; --panel: #f4f4f6; --border: #dcdce0;
      --accent: #c2410c; --accent-fg: #ffffff; --user: #fff1e8; --code-bg: #f6f8fa; --error: #b91c1c;
      --tok-keyword: #a626a4; --tok-string: #50a14f; --tok-number: #986801; --tok-comment: #8a8f98;
      --tok-function: #4078f2; --tok-builtin: #c18401;
      color-scheme: light;
    }
    @media (prefers-color-scheme: dark) {
      :root:not([data-theme="light"]) {
        --bg: #18181b; --fg: #e7e7ea; --muted: #a1a1aa; --panel: #222226; --border: #3a3a40;
        --accent: #fb923c; --accent-fg: #18181b; --user: #2c241f; --code-bg: #0f0f12; --error: #f87171;
        --tok-keyword: #c678dd; --tok-string: #98c379; --tok-number: #d19a66; --tok-comment: #7f848e;
        --tok-function: #61afef; --tok-builtin: #e5c07b;
        color-scheme: dark;
      }
    }
    :root[data-theme="dark"] {
      --bg: #18181b; --fg: #e7e7ea; --muted: #a1a1aa; --panel: #222226; --border: #3a3a40;
      --accent: #fb923c; --accent-fg: #18181b; --user: #2c241f; --code-bg: #0f0f12; --error: #f87171;
      --tok-keyword: #c678dd; --tok-string: #98c379; --tok-number: #d19a66; --tok-comment: #7f848e;
      --tok-function: #61afef; --tok-builtin: #e5c07b;
      color-scheme: dark;
    }
    * { box-sizing: border-box; }
    html, body { height: 100%; margin: 0; }
    body { background: var(--bg); color: var(--fg); font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
    button, select, input, textarea { font: inherit; color: inherit; }
    button { background: var(--panel); border: 1px solid var(--border); border-radius: 8px; padding: 6px 12px; cursor: pointer; }
    button:hover { border-color: var(--accent); }
    button.link { background: none; border: none; padding: 0 4px; color: var(--accent); font-size: 12px; }
    button.icon { padding: 4px 10px; font-size: 18px; line-height: 1; }
    select, input, textarea { background: var(--bg); border: 1px solid var(--border); border-radius: 8px; padding: 6px 8px; }
    [hidden] { display: none !important; }
    .muted { color: var(--muted); }
    .error-text { color: var(--error); }
    #app { display: flex; height: 100%; }
    #sidebar { width: 270px; flex: none; display: flex; flex-direction: column; background: var(--panel); border-right: 1px solid var(--border); }
    .side-head, .side-foot { display: flex; gap: 8px; padding: 10px; }
    .side-head #new-chat { flex: 1; }
    .side-foot { flex-wrap: wrap; border-top: 1px solid var(--border); }
    .side-foot button { font-size: 13px; padding: 4px 10px; }
    #conversations { list-style: none; margin: 0; padding: 0 6px; overflow-y: auto; flex: 1; }
    #conversations li { display: flex; align-items: center; border-radius: 8px; margin: 2px 0; }
    #conversations li.active { background: var(--bg); outline: 1px solid var(--border); }
    #conversations .open { flex: 1; min-width: 0; text-align: left; background: none; border: none; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
    #conversations .act { background: none; border: none; padding: 4px 6px; color: var(--muted); visibility: hidden; font-size: 16px; line-height: 1; }
    #conversations li:hover .act, #conversations li.active .act { visibility: visible; }
    #conversations input { flex: 1; min-width: 0; margin: 2px; }
    #usage { padding: 8px 12px; border-top: 1px solid var(--border); font-size: 13px; }
    #usage h2 { font-size: 13px; margin: 0 0 4px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); }
    #usage table { width: 100%; border-collapse: collapse; margin-top: 4px; }
    #usage td { padding: 1px 0; }
    #usage td.num { text-align: right; font-variant-numeric: tabular-nums; }
    #main { flex: 1; min-width: 0; display: flex; flex-direction: column; }
    #topbar { display: flex; align-items: center; gap: 8px; padding: 8px 14px; border-bottom: 1px solid var(--border); }
    .model-label { display: flex; align-items: center; gap: 6px; flex: 1; min-width: 0; color: var(--muted); }
    #model { min-width: 0; max-width: 340px; flex: 1; color: var(--fg); }
    #settings { display: grid; grid-template-columns: repeat(3, minmax(0, 1fr)); gap: 10px 16px; padding: 12px 14px; border-bottom: 1px solid var(--border); background: var(--panel); font-size: 14px; }
    #settings label { display: flex; flex-direction: column; gap: 4px; }
    #settings .wide { grid-column: 1 / -1; }
    #settings .pull { display: flex; flex-wrap: wrap; align-items: flex-end; gap: 8px; }
    #settings .pull label { flex: 0 1 260px; }
    #pull-progress { width: 180px; height: 12px; margin-bottom: 11px; accent-color: var(--accent); }
    #pull-status { margin-bottom: 7px; }
    #messages { flex: 1; overflow-y: auto; padding: 16px 14px 24px; }
    .empty { max-width: 560px; margin: 12vh auto 0; text-align: center; }
    .empty h1 { color: var(--accent); margin-bottom: 4px; }
    .msg { max-width: 820px; margin: 0 auto 16px; }
    .msg .role { font-size: 12px; color: var(--muted); margin-bottom: 2px; }
    .msg.user .bubble { background: var(--user); border-radius: 12px; padding: 8px 12px; white-space: pre-wrap; overflow-wrap: anywhere; }
    .msg.assistant .content { overflow-wrap: anywhere; }
    .msg .content > :first-child { margin-top: 0; }
    .msg .content > :last-child { margin-bottom: 0; }
    .msg .content p { margin: 0 0 .7em; }
    .msg .content blockquote { margin: 0 0 .7em; padding-left: 12px; border-left: 3px solid var(--border); color: var(--muted); }
    .msg .content table { border-collapse: collapse; margin: 0 0 .7em; display: block; overflow-x: auto; }
    .msg .content th, .msg .content td { border: 1px solid var(--border); padding: 4px 8px; }
    .msg .content code { font: 13px/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background: var(--code-bg); border-radius: 4px; padding: 1px 4px; }
    .code-block { border: 1px solid var(--border); border-radius: 8px; margin: 0 0 .7em; overflow: hidden; background: var(--code-bg); }
    .code-head { display: flex; justify-content: space-between; align-items: center; padding: 2px 4px 2px 10px; font-size: 12px; color: var(--muted); border-bottom: 1px solid var(--border); }
    .code-head button { font-size: 12px; padding: 2px 8px; }
    .code-block pre { margin: 0; padding: 10px 12px; overflow-x: auto; }
    .msg .content .code-block code { padding: 0; background: none; white-space: pre; }
    .tok-keyword { color: var(--tok-keyword); } .tok-string { color: var(--tok-string); } .tok-number { color: var(--tok-number); }
    .tok-comment { color: var(--tok-comment); font-style: italic; } .tok-function { color: var(--tok-function); } .tok-builtin { color: var(--tok-builtin); }
    details.thinking { margin: 0 0 .7em; padding: 4px 10px; border-left: 3px solid var(--border); color: var(--muted); font-size: 14px; }
    details.thinking summary { cursor: pointer; }
    details.thinking .think-body { white-space: pre-wrap; }
    .stats { margin-top: 6px; font-size: 12px; color: var(--muted); display: flex; flex-wrap: wrap; gap: 2px 12px; }
    .stats .stopped { color: var(--error); }
    .msg .tools { display: flex; gap: 4px; margin-top: 4px; }
    .msg .tools button { font-size: 12px; padding: 1px 8px; background: none; color: var(--muted); }
    .msg.streaming .tools { visibility: hidden; }
    .cursor::after { content: "▍"; color: var(--accent); animation: blink 1s steps(2) infinite; }
    @keyframes blink { 50% { opacity: 0; } }
    .edit-box { display: flex; flex-direction: column; gap: 6px; }
    .edit-box textarea { width: 100%; min-height: 70px; }
    .edit-box div { display: flex; gap: 6px; justify-content: flex-end; }
    #error { max-width: 820px; margin: 0 auto 8px; width: calc(100% - 28px); padding: 8px 12px; border: 1px solid var(--error); border-radius: 8px; color: var(--error); }
    #composer { display: flex; gap: 8px; align-items: flex-end; max-width: 850px; width: 100%; margin: 0 auto; padding: 10px 14px 14px; }
    #input { flex: 1; resize: none; max-height: 200px; min-height: 42px; padding: 9px 12px; border-radius: 12px; }
    #send, #stop { height: 42px; border-radius: 12px; padding: 0 18px; }
    #send { background: var(--accent); color: var(--accent-fg); border-color: var(--accent); }
    #stop { border-color: var(--error); color: var(--error); }
    dialog { border: 1px solid var(--border); border-radius: 12px; background: var(--bg); color: var(--fg); max-width: 420px; width: calc(100% - 32px); }
    dialog::backdrop { background: rgba(0, 0, 0, .45); }
    dialog form { display: flex; flex-direction: column; gap: 10px; }
    dialog h2 { margin: 0; }
    .phone-only { display: none; }
    @media (max-width: 720px) {
      .phone-only { display: inline-block; }
      #sidebar { position: fixed; z-index: 20; top: 0; bottom: 0; left: 0; width: min(300px, 85vw); transform: translateX(-105%); transition: transform .2s; }
      #app.sidebar-open #sidebar { transform: none; }
      #scrim { position: fixed; inset: 0; z-index: 10; background: rgba(0, 0, 0, .4); }
      #scrim.phone-only { display: block; }
      #scrim[hidden] { display: none !important; }
      #settings { grid-template-columns: minmax(0, 1fr); max-height: 55vh; overflow-y: auto; }
      #topbar { padding: 6px 8px; }
      .model-label { font-size: 0; gap: 0; }
      .model-label select { font-size: 15px; }
      #messages { padding: 12px 10px 20px; }
      #composer { padding: 8px 8px 10px; }
      #send, #stop { padding: 0 12px; }
      #conversations .act { visibility: visible; }
    }
    """#
}
