extension ChatPage {
    /// The page's behaviour: the API calls (`/api/chat` streamed as NDJSON, `/api/tags`,
    /// `/api/pull`, `/api/usage`), the conversation view, the list, settings and the key prompt.
    /// `/api/chat` is the route used because its last line carries the counts and durations that
    /// tokens/s needs; the `X-Hearth-Model` / `X-Hearth-Router` headers name the model the router
    /// chose and why. An answer's cloud price uses the ledger's own table from `/api/usage`.
    static let appScript = #"""
    'use strict';
    (() => {
      const $ = (id) => document.getElementById(id);
      const el = HearthMarkdown.el;
      const emptyView = $('empty');
      const state = {
        settings: HearthStore.settings(),
        conversations: HearthStore.conversations(),
        current: null,
        busy: false,
        /// The conversation an answer is streaming into (the list may show another meanwhile).
        streaming: null,
        controller: null,
        installed: [],
        catalog: [],
        prices: null,
      };

      // ---- the API ----
      class APIError extends Error {
        constructor(status, message) { super(message); this.status = status; }
      }

      function headers() {
        const fields = { 'Content-Type': 'application/json' };
        const key = HearthStore.apiKey();
        if (key) fields.Authorization = 'Bearer ' + key;
        return fields;
      }

      async function errorMessage(response) {
        let message = response.status + ' ' + response.statusText;
        try {
          const body = await response.json();
          const error = body.error;
          message = typeof error === 'string' ? error : (error && error.message) || message;
        } catch (ignored) { /* not JSON: the status says it */ }
        return message;
      }

      async function api(path, options = {}) {
        const response = await fetch(path, Object.assign({}, options, { headers: headers() }));
        if (!response.ok) {
          const message = await errorMessage(response);
          if (response.status === 401) askForKey(HearthStore.apiKey() ? 'The server refused the saved key: ' + message : '');
          throw new APIError(response.status, message);
        }
        return response;
      }

      /// Calls `onLine` with each JSON line of a streamed (NDJSON) body as it arrives.
      async function readLines(response, onLine) {
        const reader = response.body.getReader();
        const decoder = new TextDecoder();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += decoder.decode(value, { stream: true });
          let newline;
          while ((newline = buffer.indexOf('\n')) >= 0) {
            const line = buffer.slice(0, newline).trim();
            buffer = buffer.slice(newline + 1);
            if (line) onLine(JSON.parse(line));
          }
        }
        if (buffer.trim()) onLine(JSON.parse(buffer));
      }

      // ---- the API key ----
      function askForKey(message) {
        const dialog = $('key-dialog');
        $('key-error').textContent = message || '';
        $('key-error').hidden = !message;
        if (!dialog.open) dialog.showModal();
        $('key').focus();
      }

      async function submitKey(event) {
        event.preventDefault();
        const key = $('key').value.trim();
        if (!key) return;
        let response;
        try {
          response = await fetch('/api/tags', { headers: { Authorization: 'Bearer ' + key } });
        } catch (error) {
          askForKey('Cannot reach the server: ' + error.message);
          return;
        }
        if (response.status === 401) {
          askForKey('Wrong key: the server refused it (401). Use the key that hearth serve was started with.');
          return;
        }
        HearthStore.saveAPIKey(key);
        $('key').value = '';
        $('key-dialog').close();
        await start();
      }

      // ---- models, catalog, pulls ----
      function option(value, text) {
        const node = el('option', null, text);
        node.value = value;
        return node;
      }

      const bytes = (n) => n >= 1 << 30 ? (n / (1 << 30)).toFixed(2) + ' GiB' : Math.round(n / (1 << 20)) + ' MiB';

      async function loadModels() {
        const body = await (await api('/api/tags')).json();
        state.installed = (body.models || []).map((model) => model.name).sort();
        const select = $('model');
        select.replaceChildren();
        for (const name of state.installed) select.append(option(name, name));
        if (state.installed.length) select.append(option('auto', 'auto (the router picks)'));
        else select.append(option('', 'no models installed: pull one in Settings'));
        const wanted = state.settings.model;
        select.value = state.installed.includes(wanted) || (wanted === 'auto' && state.installed.length) ? wanted : state.installed[0] || '';
        state.settings.model = select.value;
        renderCatalog();
      }

      async function loadCatalog() {
        try {
          state.catalog = await (await fetch('/chat/catalog.json')).json();
        } catch (error) {
          state.catalog = [];
        }
        renderCatalog();
      }

      function renderCatalog() {
        const select = $('catalog');
        select.replaceChildren();
        const missing = state.catalog.filter((entry) => !state.installed.includes(entry.name));
        for (const entry of missing) select.append(option(entry.name, entry.name + ' (' + bytes(entry.size) + ')'));
        if (!missing.length) select.append(option('', 'every catalog model is installed'));
        $('pull').disabled = !missing.length;
      }

      async function pull() {
        const name = $('catalog').value;
        if (!name) return;
        const progress = $('pull-progress');
        const status = $('pull-status');
        $('pull').disabled = true;
        progress.hidden = false;
        progress.removeAttribute('value');
        status.textContent = 'pulling ' + name + '…';
        try {
          const response = await api('/api/pull', { method: 'POST', body: JSON.stringify({ model: name, stream: true }) });
          await readLines(response, (line) => {
            if (line.error) throw new Error(line.error);
            if (line.total) {
              progress.max = line.total;
              progress.value = line.completed || 0;
              status.textContent = line.status + ' ' + bytes(line.completed || 0) + ' of ' + bytes(line.total);
            } else {
              status.textContent = line.status;
            }
          });
          status.textContent = name + ' is installed';
          state.settings.model = name;
          await loadModels();
          saveSettings();
        } catch (error) {
          status.textContent = 'pull failed: ' + error.message;
          $('pull').disabled = false;
        } finally {
          progress.hidden = true;
        }
      }

      // ---- usage and prices ----
      function dollars(usd) {
        if (usd === 0) return '$0';
        return usd >= 0.01 ? '$' + usd.toFixed(2) : '$' + usd.toPrecision(2);
      }

      /// What the cloud model `model` stands in for (the ledger's price table) would have charged.
      function cloudPrice(model, promptTokens, tokens) {
        const table = state.prices;
        if (!table || !table.stand_ins || !model) return null;
        const untagged = model.endsWith(':latest') ? model.slice(0, -7) : model;
        const cloud = table.stand_ins[model] || table.stand_ins[untagged] || table.stand_ins['*'];
        const price = cloud && table.models && table.models[cloud];
        if (!price) return null;
        return { model: cloud, usd: ((promptTokens || 0) * price.input + (tokens || 0) * price.output) / 1e6 };
      }

      async function refreshUsage() {
        const body = $('usage-body');
        let response;
        try {
          response = await fetch('/api/usage', { headers: headers() });
        } catch (error) {
          body.textContent = 'usage unavailable';
          return;
        }
        if (response.status === 404) {
          state.prices = null;
          body.textContent = 'The ledger is off (hearth serve --no-ledger).';
          return;
        }
        if (!response.ok) {
          body.textContent = 'usage unavailable (' + response.status + ')';
          return;
        }
        const usage = await response.json();
        state.prices = usage.prices || null;
        const rows = [el('div', null, usage.requests + (usage.requests === 1 ? ' request, ' : ' requests, ')
          + (usage.prompt_tokens + usage.completion_tokens) + ' tokens'),
          el('div', null, 'saved ' + dollars(usage.cloud_cost_usd) + ' against cloud prices')];
        const table = el('table');
        for (const entry of (usage.by_model || []).slice(0, 6)) {
          const row = el('tr');
          row.append(el('td', null, entry.model), el('td', 'num', String(entry.requests)), el('td', 'num', dollars(entry.cloud_cost_usd)));
          table.append(row);
        }
        rows.push(table);
        if (usage.prices) rows.push(el('div', 'muted', 'prices as of ' + usage.prices.as_of));
        body.replaceChildren(...rows);
      }

      // ---- conversations ----
      function persist() {
        const problem = HearthStore.saveConversations(state.conversations);
        if (problem) showError(problem);
        state.settings.current = state.current ? state.current.id : '';
        saveSettings();
      }

      function saveSettings() { HearthStore.saveSettings(state.settings); }

      function openConversation(id) {
        state.current = state.conversations.find((c) => c.id === id) || null;
        state.settings.current = state.current ? state.current.id : '';
        saveSettings();
        closeSidebar();
        renderList();
        renderConversation();
      }

      function deleteConversation(conversation) {
        if (state.busy && conversation === state.current) return;
        if (!confirm('Delete "' + conversation.title + '"?')) return;
        state.conversations = state.conversations.filter((c) => c !== conversation);
        if (state.current === conversation) state.current = null;
        persist();
        renderList();
        renderConversation();
      }

      function startRename(item, conversation) {
        const input = el('input');
        input.value = conversation.title;
        input.setAttribute('aria-label', 'New name');
        item.replaceChildren(input);
        input.focus();
        input.select();
        let finished = false;
        const finish = (keep) => {
          if (finished) return;
          finished = true;
          if (keep && input.value.trim()) {
            conversation.title = input.value.trim();
            persist();
          }
          renderList();
        };
        input.addEventListener('keydown', (event) => {
          if (event.key === 'Enter') { event.preventDefault(); finish(true); }
          if (event.key === 'Escape') finish(false);
        });
        input.addEventListener('blur', () => finish(true));
      }

      function renderList() {
        const list = $('conversations');
        list.replaceChildren();
        for (const conversation of state.conversations) {
          const item = el('li');
          item.dataset.id = conversation.id;
          if (conversation === state.current) item.classList.add('active');
          const open = el('button', 'open', conversation.title || 'New chat');
          open.type = 'button';
          open.title = conversation.title;
          open.addEventListener('click', () => openConversation(conversation.id));
          const rename = el('button', 'act rename', '✎');
          rename.type = 'button';
          rename.title = 'Rename';
          rename.addEventListener('click', () => startRename(item, conversation));
          const remove = el('button', 'act delete', '×');
          remove.type = 'button';
          remove.title = 'Delete';
          remove.addEventListener('click', () => deleteConversation(conversation));
          item.append(open, rename, remove);
          list.append(item);
        }
      }

      // ---- the conversation view ----
      function fillStats(node, stats) {
        node.replaceChildren();
        if (!stats) return;
        node.dataset.model = stats.model || '';
        const add = (text, cls) => node.append(el('span', cls, text));
        add(stats.requested === 'auto' ? 'auto → ' + (stats.model || '…') : stats.model || stats.requested, 'stat-model');
        if (stats.router) add('router: ' + stats.router, 'stat-router');
        const about = stats.approximate ? '~' : '';
        if (stats.tokensPerSecond) add(about + stats.tokensPerSecond.toFixed(1) + ' tokens/s', 'stat-speed');
        if (stats.ttftMs !== undefined) add('first token in ' + (stats.ttftMs / 1000).toFixed(2) + ' s', 'stat-ttft');
        if (stats.tokens !== undefined) add(about + stats.tokens + ' tokens', 'stat-tokens');
        if (stats.savedUSD !== undefined) add('saved ' + dollars(stats.savedUSD) + ' vs ' + stats.cloudModel, 'stat-saved');
        if (stats.stopped) add('stopped', 'stopped');
        if (stats.doneReason === 'length') add('reached the token limit', 'stopped');
        if (stats.error) add('error: ' + stats.error, 'stopped');
      }

      function tool(label, action) {
        const button = el('button', null, label);
        button.type = 'button';
        button.addEventListener('click', action);
        return button;
      }

      function messageView(conversation, message, index) {
        const root = el('div', 'msg ' + message.role);
        root.dataset.index = String(index);
        const last = index === conversation.messages.length - 1;
        const tools = el('div', 'tools');
        if (message.role === 'user') {
          root.append(el('div', 'role', 'You'), el('div', 'bubble content', message.content));
          tools.append(tool('Edit', () => startEdit(root, conversation, index)));
        } else {
          root.append(el('div', 'role', (message.stats && message.stats.model) || 'Assistant'));
          const content = el('div', 'content');
          HearthMarkdown.render(message.content, content, message.thinking);
          const stats = el('div', 'stats');
          fillStats(stats, message.stats);
          root.append(content, stats);
          if (last) tools.append(tool('Regenerate', () => regenerate(conversation)));
          if (state.busy && last && state.streaming === conversation) {
            root.classList.add('streaming');
            content.classList.add('cursor');
          }
        }
        tools.prepend(tool('Copy', (event) => HearthMarkdown.copyText(message.content, event.currentTarget)));
        root.append(tools);
        return root;
      }

      function renderConversation() {
        const box = $('messages');
        const conversation = state.current;
        if (!conversation || !conversation.messages.length) {
          box.replaceChildren(emptyView);
          return;
        }
        box.replaceChildren(...conversation.messages.map((message, index) => messageView(conversation, message, index)));
        box.scrollTop = box.scrollHeight;
      }

      function startEdit(root, conversation, index) {
        if (state.busy) return;
        const editor = el('textarea');
        editor.value = conversation.messages[index].content;
        const resend = () => {
          const text = editor.value.trim();
          if (!text || state.busy) return;
          conversation.messages = conversation.messages.slice(0, index);
          conversation.messages.push({ role: 'user', content: text });
          answer(conversation);
        };
        editor.addEventListener('keydown', (event) => {
          if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) { event.preventDefault(); resend(); }
          if (event.key === 'Escape') renderConversation();
        });
        const buttons = el('div');
        buttons.append(tool('Cancel', renderConversation), tool('Send', resend));
        const box = el('div', 'edit-box');
        box.append(editor, buttons);
        root.querySelector('.bubble').replaceWith(box);
        root.querySelector('.tools').hidden = true;
        editor.focus();
      }

      function regenerate(conversation) {
        if (state.busy) return;
        const last = conversation.messages[conversation.messages.length - 1];
        if (last && last.role === 'assistant') conversation.messages.pop();
        answer(conversation);
      }

      // ---- sending and streaming ----
      function setBusy(busy) {
        state.busy = busy;
        document.body.dataset.busy = String(busy);
        $('send').hidden = busy;
        $('stop').hidden = !busy;
        $('model').disabled = busy;
      }

      function showError(message) {
        $('error').textContent = message;
        $('error').hidden = !message;
      }

      function send() {
        const text = $('input').value.trim();
        if (!text || state.busy) return;
        if (!state.settings.model) {
          showError('No model to answer: pull one from the catalog in Settings.');
          return;
        }
        if (!state.current) {
          state.current = HearthStore.create();
          state.conversations.unshift(state.current);
        }
        const conversation = state.current;
        if (!conversation.messages.length) conversation.title = HearthStore.titleFrom(text);
        conversation.messages.push({ role: 'user', content: text });
        $('input').value = '';
        resizeInput();
        answer(conversation);
      }

      function requestOptions() {
        const options = { temperature: Number(state.settings.temperature) };
        if (Number(state.settings.numCtx) > 0) options.num_ctx = Number(state.settings.numCtx);
        if (Number(state.settings.numPredict) > 0) options.num_predict = Number(state.settings.numPredict);
        return options;
      }

      async function answer(conversation) {
        showError('');
        const model = state.settings.model;
        const messages = conversation.messages.map((m) => ({ role: m.role, content: m.content }));
        if (state.settings.system.trim()) messages.unshift({ role: 'system', content: state.settings.system.trim() });
        const reply = { role: 'assistant', content: '', thinking: '', stats: { requested: model, model } };
        conversation.messages.push(reply);
        conversation.updated = Date.now();
        const controller = new AbortController();
        state.controller = controller;
        state.streaming = conversation;
        setBusy(true);
        persist();
        renderList();
        renderConversation();
        const started = performance.now();
        let firstPiece = null;
        let pieces = 0;
        let final = null;
        let timer = 0;
        const paint = () => {
          timer = 0;
          // Looked up each time: the list may have shown another conversation meanwhile, and
          // coming back renders this one's nodes anew.
          if (conversation !== state.current) return;
          const box = $('messages');
          const view = box.lastElementChild;
          if (!view || !view.classList.contains('assistant')) return;
          const content = view.querySelector('.content');
          const nearBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 80;
          HearthMarkdown.render(reply.content, content, reply.thinking);
          if (nearBottom) box.scrollTop = box.scrollHeight;
        };
        try {
          const response = await api('/api/chat', {
            method: 'POST', signal: controller.signal,
            body: JSON.stringify({ model, messages, stream: true, options: requestOptions() }),
          });
          reply.stats.model = response.headers.get('X-Hearth-Model') || model;
          reply.stats.router = response.headers.get('X-Hearth-Router') || undefined;
          await readLines(response, (line) => {
            if (line.error) throw new Error(line.error);
            const piece = (line.message && line.message.content) || '';
            const thought = (line.message && line.message.thinking) || '';
            if (piece || thought) {
              if (firstPiece === null) firstPiece = performance.now();
              pieces += 1;
            }
            reply.content += piece;
            reply.thinking += thought;
            if (line.model && !reply.stats.router) reply.stats.model = line.model;
            if (line.done) final = line;
            if (!timer) timer = setTimeout(paint, 40);
          });
        } catch (error) {
          if (error.name === 'AbortError') reply.stats.stopped = true;
          else {
            reply.stats.error = error.message;
            showError(error.message);
          }
        } finally {
          clearTimeout(timer);
          const stats = reply.stats;
          stats.totalMs = Math.round(performance.now() - started);
          if (firstPiece !== null) stats.ttftMs = Math.round(firstPiece - started);
          if (final) {
            stats.doneReason = final.done_reason;
            stats.promptTokens = final.prompt_eval_count;
            stats.tokens = final.eval_count;
            if (final.eval_duration > 0) stats.tokensPerSecond = final.eval_count / (final.eval_duration / 1e9);
          } else if (pieces > 0) {
            // Stopped: no counts came, so each streamed line counts as a token.
            stats.approximate = true;
            stats.tokens = pieces;
            const seconds = (performance.now() - firstPiece) / 1000;
            if (pieces > 1 && seconds > 0) stats.tokensPerSecond = (pieces - 1) / seconds;
          }
          // A remote answer (the router's last tier, a cloud model by name) was paid, not saved.
          if (final && !(state.prices && state.prices.models && state.prices.models[stats.model])) {
            const cloud = cloudPrice(stats.model, stats.promptTokens, stats.tokens);
            if (cloud) {
              stats.cloudModel = cloud.model;
              stats.savedUSD = cloud.usd;
            }
          }
          if (!reply.thinking) delete reply.thinking;
          state.controller = null;
          state.streaming = null;
          conversation.updated = Date.now();
          setBusy(false);
          persist();
          renderList();
          if (conversation === state.current) renderConversation();
          refreshUsage();
        }
      }

      function stop() {
        if (state.controller) state.controller.abort();
      }

      // ---- layout, theme, settings ----
      function resizeInput() {
        const input = $('input');
        input.style.height = 'auto';
        input.style.height = Math.min(input.scrollHeight + 2, 200) + 'px';
      }

      function applyTheme() {
        const theme = state.settings.theme;
        if (theme === 'light' || theme === 'dark') document.documentElement.dataset.theme = theme;
        else delete document.documentElement.dataset.theme;
        $('theme').textContent = 'Theme: ' + (theme || 'system');
      }

      function openSidebar() { $('app').classList.add('sidebar-open'); $('scrim').hidden = false; }
      function closeSidebar() { $('app').classList.remove('sidebar-open'); $('scrim').hidden = true; }

      function fillSettings() {
        const s = state.settings;
        $('system').value = s.system;
        $('temperature').value = s.temperature;
        $('temperature-value').textContent = Number(s.temperature).toFixed(2);
        $('num-ctx').value = s.numCtx;
        $('num-predict').value = s.numPredict;
        $('forget-key').hidden = !HearthStore.apiKey();
      }

      function bind() {
        $('composer').addEventListener('submit', (event) => { event.preventDefault(); send(); });
        $('input').addEventListener('keydown', (event) => {
          if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) { event.preventDefault(); send(); }
        });
        $('input').addEventListener('input', resizeInput);
        $('stop').addEventListener('click', stop);
        document.addEventListener('keydown', (event) => {
          if (event.key === 'Escape' && state.busy) stop();
          if (event.key.toLowerCase() === 'o' && event.shiftKey && (event.ctrlKey || event.metaKey)) {
            event.preventDefault();
            $('new-chat').click();
          }
        });
        $('new-chat').addEventListener('click', () => {
          if (state.busy) return;
          state.current = null;
          persist();
          closeSidebar();
          renderList();
          renderConversation();
          $('input').focus();
        });
        $('model').addEventListener('change', () => { state.settings.model = $('model').value; saveSettings(); });
        $('settings-toggle').addEventListener('click', () => {
          const open = $('settings').hidden;
          $('settings').hidden = !open;
          $('settings-toggle').setAttribute('aria-expanded', String(open));
        });
        $('system').addEventListener('change', () => { state.settings.system = $('system').value; saveSettings(); });
        $('temperature').addEventListener('input', () => {
          state.settings.temperature = Number($('temperature').value);
          $('temperature-value').textContent = state.settings.temperature.toFixed(2);
          saveSettings();
        });
        $('num-ctx').addEventListener('change', () => { state.settings.numCtx = $('num-ctx').value; saveSettings(); });
        $('num-predict').addEventListener('change', () => { state.settings.numPredict = $('num-predict').value; saveSettings(); });
        $('pull').addEventListener('click', pull);
        $('forget-key').addEventListener('click', () => { HearthStore.saveAPIKey(''); location.reload(); });
        $('export').addEventListener('click', () => HearthStore.exportAll());
        $('theme').addEventListener('click', () => {
          const order = ['system', 'light', 'dark'];
          state.settings.theme = order[(order.indexOf(state.settings.theme) + 1) % order.length];
          saveSettings();
          applyTheme();
        });
        $('usage-refresh').addEventListener('click', refreshUsage);
        $('open-sidebar').addEventListener('click', openSidebar);
        $('close-sidebar').addEventListener('click', closeSidebar);
        $('scrim').addEventListener('click', closeSidebar);
        $('error').addEventListener('click', () => showError(''));
        $('key-form').addEventListener('submit', submitKey);
        // The key is needed before anything works: the dialog stays until one is accepted.
        $('key-dialog').addEventListener('cancel', (event) => event.preventDefault());
      }

      async function start() {
        fillSettings();
        try {
          await loadModels();
        } catch (error) {
          if (error.status !== 401) showError('Cannot list the models: ' + error.message);
          return;
        }
        saveSettings();
        loadCatalog();
        refreshUsage();
        $('input').focus();
      }

      bind();
      applyTheme();
      state.current = state.conversations.find((c) => c.id === state.settings.current) || null;
      renderList();
      renderConversation();
      start();
    })();
    """#
}
