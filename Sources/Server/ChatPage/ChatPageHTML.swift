extension ChatPage {
    /// The document: structure only. Scripts load from the page's own files (the Content-Security-
    /// Policy allows no inline script), and everything a model writes is added later as text nodes.
    static let html = #"""
    <!doctype html>
    <html lang="en">
    <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <meta name="color-scheme" content="light dark">
    <title>Hearth</title>
    <link rel="icon" href="data:,">
    <link rel="stylesheet" href="/chat/app.css">
    <script src="/chat/markdown.js" defer></script>
    <script src="/chat/store.js" defer></script>
    <script src="/chat/app.js" defer></script>
    </head>
    <body data-busy="false">
    <div id="app">
      <aside id="sidebar" aria-label="Conversations">
        <div class="side-head">
          <button id="new-chat" type="button" title="New chat (Ctrl+Shift+O)">+ New chat</button>
          <button id="close-sidebar" class="icon phone-only" type="button" aria-label="Close the list">×</button>
        </div>
        <ul id="conversations"></ul>
        <section id="usage" aria-label="Usage">
          <h2>Usage <button id="usage-refresh" class="link" type="button">refresh</button></h2>
          <div id="usage-body" class="muted">…</div>
        </section>
        <div class="side-foot">
          <button id="export" type="button">Export JSON</button>
          <button id="theme" type="button" title="Light, dark or the system's theme">Theme: system</button>
        </div>
      </aside>
      <div id="scrim" class="phone-only" hidden></div>
      <main id="main">
        <header id="topbar">
          <button id="open-sidebar" class="icon phone-only" type="button" aria-label="Conversations">☰</button>
          <label class="model-label">Model <select id="model" aria-label="Model"></select></label>
          <button id="settings-toggle" type="button" aria-expanded="false" aria-controls="settings">Settings</button>
        </header>
        <section id="settings" hidden>
          <label class="wide">System prompt
            <textarea id="system" rows="2" placeholder="You are a helpful assistant."></textarea></label>
          <label>Temperature <span id="temperature-value" class="muted"></span>
            <input id="temperature" type="range" min="0" max="2" step="0.05"></label>
          <label>Context (tokens)
            <input id="num-ctx" type="number" min="256" step="256" placeholder="server default"></label>
          <label>Most tokens per answer
            <input id="num-predict" type="number" min="1" step="1" placeholder="no limit"></label>
          <div class="wide pull">
            <label>Get a catalog model <select id="catalog"></select></label>
            <button id="pull" type="button">Pull</button>
            <progress id="pull-progress" max="1" value="0" hidden></progress>
            <span id="pull-status" class="muted"></span>
          </div>
          <div class="wide">
            <button id="forget-key" type="button" hidden>Forget the API key</button>
            <span class="muted">Enter sends, Shift+Enter starts a new line, Esc stops the answer.</span>
          </div>
        </section>
        <div id="messages" aria-live="polite">
          <div id="empty" class="empty">
            <h1>Hearth</h1>
            <p class="muted">A local model answers here: nothing leaves this machine. Each answer shows its speed, the model that wrote it, and what the cloud would have charged.</p>
        <p class="muted">Enter sends, Shift+Enter starts a new line, Esc stops an answer.</p>
          </div>
        </div>
        <div id="error" role="alert" hidden></div>
        <form id="composer">
          <textarea id="input" rows="1" placeholder="Message" aria-label="Message"></textarea>
          <button id="send" type="submit">Send</button>
          <button id="stop" type="button" hidden>Stop</button>
        </form>
      </main>
    </div>
    <dialog id="key-dialog" aria-labelledby="key-title">
      <form id="key-form">
        <h2 id="key-title">API key</h2>
        <p>This server was started with <code>--api-key</code>. The key is kept in this browser only and sent with every request.</p>
        <input id="key" type="password" autocomplete="off" aria-label="API key">
        <p id="key-error" class="error-text" hidden></p>
        <button id="key-save" type="submit">Use this key</button>
      </form>
    </dialog>
    </body>
    </html>
    """#
}
