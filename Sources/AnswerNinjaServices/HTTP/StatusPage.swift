import AnswerNinjaCore

/// The page at `/`: what runs and where it listens, until the dashboard takes this path. Server-rendered, no script.
enum StatusPage {
    static func html(context: ServiceContext) -> String {
        let rows = context.listeners().map { listener in
            "<tr><th scope=\"row\">\(escape(listener.name))</th><td>\(escape(listener.address))</td><td>\(escape(listener.detail))</td></tr>"
        }.joined(separator: "\n")
        return """
            <!doctype html>
            <html lang="en">
            <head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <title>Answer Ninja</title></head>
            <body>
            <main>
            <h1>Answer Ninja \(escape(AnswerNinjaVersion.current))</h1>
            <p id="roles">Roles: \(escape(context.roles.map(\.rawValue).joined(separator: ", ")))</p>
            <table id="listeners"><caption>Where everything listens</caption>
            <thead><tr><th scope="col">Service</th><th scope="col">Address</th><th scope="col">Details</th></tr></thead>
            <tbody>
            \(rows)
            </tbody></table>
            <p><a href="/health">health</a> · <a href="/ready">readiness</a> · <a href="/metrics">metrics</a></p>
            </main>
            </body>
            </html>
            """
    }

    static func escape(_ text: String) -> String {
        var result = ""
        for character in text {
            switch character {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            case "'": result += "&#39;"
            default: result.append(character)
            }
        }
        return result
    }
}
