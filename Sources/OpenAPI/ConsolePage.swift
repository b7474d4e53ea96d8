// The console (issue 18): one self-contained page — nothing fetched from elsewhere — that lists
// every exposed method, fills a JSON template of its request, calls it through the gateway and
// shows the reply. Unary calls go as Connect unary JSON (`POST /pkg.Service/Method` with
// `connect-protocol-version: 1`), server streams as the REST by-name address with
// `Accept: application/x-ndjson`, read message by message as they arrive; client streams send
// a JSON array. The methods and templates are embedded at serve time from the descriptors.
import Transcode

public enum ConsolePage {
    /// Where the page sends calls: a listener's scheme and port, and its host (empty: the
    /// page's own host, for a listener on every address).
    public struct Gateway: Sendable {
        public var scheme: String
        public var host: String
        public var port: Int

        public init(scheme: String, host: String, port: Int) {
            self.scheme = scheme
            self.host = host
            self.port = port
        }
    }

    public static func html(catalog: RESTCatalog, gateway: Gateway) -> String {
        let methods = catalog.methods.values.sorted { $0.grpcPath < $1.grpcPath }.map { method in
            OrderedJSON.object([
                ("name", .string(String(method.grpcPath.dropFirst()))),
                ("path", .string(method.grpcPath)),
                ("clientStreaming", .bool(method.clientStreaming)),
                ("serverStreaming", .bool(method.serverStreaming)),
                ("template", .string(RequestTemplate.json(for: method.inputType, pool: catalog.pool))),
            ])
        }
        let data = OrderedJSON.object([
            ("gateway", .object([("scheme", .string(gateway.scheme)), ("host", .string(gateway.host)), ("port", .number(gateway.port))])),
            ("methods", .array(methods)),
        ])
        // "</" could end the script element early: JSON allows "<\/" for it.
        let embedded = data.serialized().replacing("</", with: "<\\/")
        return page.replacing("FERRY_DATA", with: embedded)
    }

    private static let page = #"""
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <title>Ferry console</title>
        <style>
          body { font: 14px system-ui, sans-serif; margin: 1.5em; max-width: 70em; color: #222; }
          label { display: block; margin: .8em 0 .3em; font-weight: 600; }
          select, textarea, button { font: 13px ui-monospace, monospace; }
          select { width: 100%; padding: .3em; }
          textarea { width: 100%; box-sizing: border-box; }
          button { margin-top: .8em; padding: .4em 1.4em; }
          pre { background: #f4f4f4; padding: .8em; overflow: auto; white-space: pre-wrap; }
          .status { margin-top: .8em; font-weight: 600; }
          .error { color: #a00; }
        </style>
        </head>
        <body>
        <h1>Ferry console</h1>
        <label for="method">Method</label>
        <select id="method" data-testid="method-select"></select>
        <label for="request">Request (JSON)</label>
        <textarea id="request" data-testid="request-editor" rows="12"></textarea>
        <label for="metadata">Metadata (one <code>name: value</code> per line)</label>
        <textarea id="metadata" data-testid="metadata-editor" rows="3"></textarea>
        <button id="call" data-testid="call-button">Call</button>
        <div id="status" class="status" data-testid="response-status"></div>
        <pre id="output" data-testid="response-output"></pre>
        <label>curl</label>
        <pre id="curl" data-testid="curl-line"></pre>
        <script id="ferry-data" type="application/json">FERRY_DATA</script>
        <script>
        "use strict";
        const data = JSON.parse(document.getElementById("ferry-data").textContent);
        const gateway = data.gateway;
        const base = `${gateway.scheme}://${gateway.host || location.hostname}:${gateway.port}`;
        const select = document.getElementById("method");
        const editor = document.getElementById("request");
        const metadata = document.getElementById("metadata");
        const output = document.getElementById("output");
        const status = document.getElementById("status");
        const curl = document.getElementById("curl");
        for (const method of data.methods) {
          const kind = method.clientStreaming ? (method.serverStreaming ? "bidi stream" : "client stream")
            : (method.serverStreaming ? "server stream" : "unary");
          select.add(new Option(`${method.name} (${kind})`, method.name));
        }
        const selected = () => data.methods.find((method) => method.name === select.value);
        function fillTemplate() {
          const method = selected();
          if (method) editor.value = method.clientStreaming ? `[${method.template}]` : method.template;
        }
        select.addEventListener("change", fillTemplate);
        fillTemplate();
        function headersOf(method) {
          const headers = { "content-type": "application/json" };
          if (method.serverStreaming) headers["accept"] = "application/x-ndjson";
          else if (!method.clientStreaming) headers["connect-protocol-version"] = "1";
          for (const line of metadata.value.split("\n")) {
            const colon = line.indexOf(":");
            if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
          }
          return headers;
        }
        const quote = (text) => `'${text.replace(/'/g, `'\\''`)}'`;
        const pretty = (text) => { try { return JSON.stringify(JSON.parse(text), null, 2); } catch { return text; } };
        function report(text, failed) {
          status.textContent = text;
          status.className = failed ? "status error" : "status";
        }
        async function call() {
          const method = selected();
          output.textContent = "";
          report("calling…", false);
          let body;
          try { body = JSON.stringify(JSON.parse(editor.value)); } catch (error) { return report(`the request is not JSON: ${error.message}`, true); }
          if (method.clientStreaming && method.serverStreaming) {
            return report("bidirectional streams need HTTP/2 end to end: call them with a gRPC or Connect client", true);
          }
          const headers = headersOf(method);
          const url = base + method.path;
          curl.textContent = `curl -s ${quote(url)} ` + Object.entries(headers).map(([name, value]) => `-H ${quote(`${name}: ${value}`)}`).join(" ")
            + ` --data ${quote(body)}`;
          const started = performance.now();
          const elapsed = () => `${Math.round(performance.now() - started)} ms`;
          let response;
          try {
            response = await fetch(url, { method: "POST", headers, body });
          } catch (error) {
            return report(`no answer from ${base}: ${error.message} (is its origin allowed by the listener's cors?)`, true);
          }
          if (!method.serverStreaming) {
            const text = await response.text();
            output.textContent = pretty(text);
            if (response.ok) return report(`OK · HTTP ${response.status} · ${elapsed()}`, false);
            let code = "";
            try { const error = JSON.parse(text); code = error.code === undefined ? "" : `${error.code}: ${error.message || ""}`; } catch {}
            return report(`${code || "error"} · HTTP ${response.status} · ${elapsed()}`, true);
          }
          if (!response.ok) {
            output.textContent = pretty(await response.text());
            return report(`error · HTTP ${response.status} · ${elapsed()}`, true);
          }
          // NDJSON: each line is a message, or {"error": status} last.
          const reader = response.body.getReader();
          const decoder = new TextDecoder();
          let pending = "";
          let count = 0;
          let failure = null;
          for (;;) {
            const { done, value } = await reader.read();
            if (value) pending += decoder.decode(value, { stream: true });
            let newline;
            while ((newline = pending.indexOf("\n")) >= 0) {
              const line = pending.slice(0, newline);
              pending = pending.slice(newline + 1);
              if (!line.trim()) continue;
              const message = JSON.parse(line);
              if (message.error) { failure = message.error; continue; }
              count += 1;
              output.textContent += `// message ${count} · ${elapsed()}\n${JSON.stringify(message, null, 2)}\n`;
              report(`streaming · ${count} message(s) · ${elapsed()}`, false);
            }
            if (done) break;
          }
          if (failure) {
            output.textContent += `// error\n${JSON.stringify(failure, null, 2)}\n`;
            return report(`${failure.code}: ${failure.message} · after ${count} message(s) · ${elapsed()}`, true);
          }
          report(`OK · ${count} message(s) · ${elapsed()}`, false);
        }
        document.getElementById("call").addEventListener("click", call);
        </script>
        </body>
        </html>
        """#
}
