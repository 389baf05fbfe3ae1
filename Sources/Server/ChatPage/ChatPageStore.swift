extension ChatPage {
    /// What the page keeps in the browser (localStorage, this origin only): the conversations,
    /// the settings, and the API key when the server asks for one. Nothing is kept on the server.
    ///
    /// A conversation: `{id, title, created, updated, messages: [{role, content, thinking?, stats?}]}`;
    /// `stats` of an answer: `{model, requested, router, promptTokens, tokens, tokensPerSecond,
    /// ttftMs, totalMs, cloudModel, savedUSD, stopped, doneReason}`.
    static let storeScript = #"""
    'use strict';
    const HearthStore = (() => {
      const CONVERSATIONS = 'hearth-chat:conversations';
      const SETTINGS = 'hearth-chat:settings';
      const API_KEY = 'hearth-chat:api-key';
      const DEFAULTS = { model: '', system: '', temperature: 0.8, numCtx: '', numPredict: '', theme: 'system', current: '' };

      function read(key, fallback) {
        try {
          const text = localStorage.getItem(key);
          return text === null ? fallback : JSON.parse(text);
        } catch (error) {
          return fallback;
        }
      }

      function write(key, value) {
        try {
          localStorage.setItem(key, JSON.stringify(value));
          return null;
        } catch (error) {
          return 'The browser refused to save (' + error.name + '): storage may be full; export and delete old conversations.';
        }
      }

      const valid = (c) => c && typeof c.id === 'string' && Array.isArray(c.messages);

      function conversations() {
        const list = read(CONVERSATIONS, []);
        return Array.isArray(list) ? list.filter(valid) : [];
      }

      function newID() {
        const bytes = new Uint8Array(8);
        crypto.getRandomValues(bytes);
        return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
      }

      function titleFrom(text) {
        const line = (text || '').replace(/\s+/g, ' ').trim();
        return line.length > 48 ? line.slice(0, 47) + '…' : line || 'New chat';
      }

      return {
        conversations,
        /// Saves the list, newest first; returns an error message or null.
        saveConversations(list) {
          list.sort((a, b) => (b.updated || 0) - (a.updated || 0));
          return write(CONVERSATIONS, list);
        },
        create() {
          const now = Date.now();
          return { id: newID(), title: 'New chat', created: now, updated: now, messages: [] };
        },
        titleFrom,
        settings() { return Object.assign({}, DEFAULTS, read(SETTINGS, {})); },
        saveSettings(settings) { return write(SETTINGS, settings); },
        apiKey() { return read(API_KEY, ''); },
        saveAPIKey(key) { return key ? write(API_KEY, key) : localStorage.removeItem(API_KEY); },
        /// Every conversation as one JSON file the browser downloads.
        exportAll() {
          const data = JSON.stringify({ exported: new Date().toISOString(), source: 'Hearth chat', conversations: conversations() }, null, 2);
          const url = URL.createObjectURL(new Blob([data], { type: 'application/json' }));
          const anchor = document.createElement('a');
          anchor.href = url;
          anchor.download = 'hearth-conversations-' + new Date().toISOString().slice(0, 10) + '.json';
          document.body.append(anchor);
          anchor.click();
          anchor.remove();
          setTimeout(() => URL.revokeObjectURL(url), 1000);
        },
      };
    })();
    """#
}
