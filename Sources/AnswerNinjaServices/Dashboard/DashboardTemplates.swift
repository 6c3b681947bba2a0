import Mustache

/// The dashboard's pages as mustache templates (rendered on the server, HTML-escaped by `{{ }}`; `{{{ }}}` only for
/// HTML we built ourselves). No inline script or style: the content security policy forbids both.
enum DashboardTemplates {
    static func library() throws -> MustacheLibrary {
        var library = MustacheLibrary()
        for (name, text) in [
            ("layout", layout), ("signin", signIn), ("live", live), ("live-call", liveCall), ("history", history), ("detail", detail),
            ("problem", problem), ("csrf", csrfField),
        ] {
            try library.register(text, named: name)
        }
        return library
    }

    static let csrfField = #"<input type="hidden" name="csrf" value="{{csrf}}">"#

    static let layout = """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>{{title}} · Answer Ninja</title>
        <link rel="stylesheet" href="/assets/dashboard.css">
        {{#script}}<script src="{{script}}" defer></script>{{/script}}
        </head>
        <body>
        <a class="skip" href="#main">Skip to the content</a>
        <header>
        <a class="brand" href="/">Answer Ninja</a>
        {{#signedIn}}
        <nav aria-label="Main">
        <a href="/calls/live"{{#onLive}} aria-current="page"{{/onLive}}>Live</a>
        <a href="/calls"{{#onHistory}} aria-current="page"{{/onHistory}}>History</a>
        </nav>
        <form method="post" action="/logout" class="signout">{{> csrf}}<button type="submit">Sign out</button></form>
        {{/signedIn}}
        </header>
        <main id="main">
        {{{content}}}
        </main>
        </body>
        </html>
        """

    static let signIn = """
        <h1>Sign in</h1>
        {{#error}}<p class="error" role="alert" id="error">{{error}}</p>{{/error}}
        <form method="post" action="/login" class="stack">
        {{> csrf}}
        <label for="email">Email</label>
        <input id="email" name="email" type="email" autocomplete="username" required value="{{email}}">
        <label for="password">Password</label>
        <input id="password" name="password" type="password" autocomplete="current-password" required>
        <label for="totp">Authenticator code, if you turned it on</label>
        <input id="totp" name="totp" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" maxlength="6">
        <button type="submit">Sign in</button>
        </form>
        """

    static let live = """
        <h1>Live calls</h1>
        {{#message}}<p class="notice" role="status" id="message">{{message}}</p>{{/message}}
        {{#error}}<p class="error" role="alert" id="error">{{error}}</p>{{/error}}
        <p id="live-status" role="status" aria-live="polite">Waiting for live updates…</p>
        <p id="no-calls"{{^empty}} hidden{{/empty}}>No call in progress.</p>
        <ul id="live-calls" class="cards" aria-live="polite">
        {{#calls}}{{> live-call}}{{/calls}}
        </ul>
        """

    /// One call in progress; also served alone (`/calls/live/card`) for the live page's script to insert.
    static let liveCall = """
        <li class="card" id="call-{{id}}" data-call-id="{{id}}">
        <h2><span class="caller">{{caller}}</span> <span class="state">{{state}}</span></h2>
        <p>Decision: <span class="decision">{{decision}}</span> <span class="reasons">{{reasons}}</span></p>
        <p>Intent: <span class="intent">{{intent}}</span> <span class="confidence">{{confidence}}</span></p>
        <ol class="transcript" aria-label="Transcript">{{#lines}}<li class="{{speaker}}"><b>{{who}}:</b> {{text}}</li>{{/lines}}</ol>
        <div class="actions">
        <form method="post" action="/calls/{{path}}/takeover">{{> csrf}}<button type="submit">Take over</button></form>
        <form method="post" action="/calls/{{path}}/hangup">{{> csrf}}<button type="submit">Hang up</button></form>
        <form method="post" action="/calls/{{path}}/whitelist-caller">{{> csrf}}<button type="submit">Whitelist the caller</button></form>
        </div>
        </li>
        """

    static let history = """
        <h1>History</h1>
        {{#error}}<p class="error" role="alert" id="error">{{error}}</p>{{/error}}
        <form method="get" action="/calls" class="filters" role="search" aria-label="Filter the calls">
        <div><label for="from">From</label><input id="from" name="from" type="date" value="{{from}}"></div>
        <div><label for="to">To</label><input id="to" name="to" type="date" value="{{to}}"></div>
        <div><label for="outcome">Outcome</label><select id="outcome" name="outcome"><option value="">Any</option>{{#outcomes}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{value}}</option>{{/outcomes}}</select></div>
        <div><label for="intent">Intent</label><input id="intent" name="intent" value="{{intent}}"></div>
        <div><label for="number">Number</label><input id="number" name="number" inputmode="tel" value="{{number}}"></div>
        <div><label for="q">Words said</label><input id="q" name="q" type="search" value="{{q}}"></div>
        <button type="submit">Filter</button>
        </form>
        <p id="count">{{count}}</p>
        <ul id="calls" class="cards">
        {{#calls}}
        <li class="card"><a href="/calls/{{path}}"><span class="caller">{{caller}}</span></a>
        <span class="when">{{started}}</span> · <span class="decision">{{decision}}</span> · <span class="outcome">{{outcome}}</span>
        {{#intent}} · <span class="intent">{{intent}}</span>{{/intent}} · <span class="duration">{{duration}}</span></li>
        {{/calls}}
        </ul>
        {{#next}}<p><a id="older" rel="next" href="{{next}}">Older calls</a></p>{{/next}}
        """

    static let detail = """
        <h1>Call from <span id="caller">{{caller}}</span></h1>
        <dl class="facts">
        <dt>Started</dt><dd>{{started}}</dd>
        <dt>Duration</dt><dd>{{duration}}</dd>
        <dt>Decision</dt><dd id="decision">{{decision}}</dd>
        <dt>Reasons</dt><dd id="reasons">{{reasons}}</dd>
        <dt>Intent</dt><dd id="intent">{{intent}} {{confidence}}</dd>
        <dt>Outcome</dt><dd id="outcome">{{outcome}}</dd>
        <dt>Ended by</dt><dd>{{endReason}}</dd>
        </dl>
        {{#recording}}
        <h2>Recording</h2>
        <audio id="recording" controls preload="metadata" src="/calls/{{path}}/recording">Your browser cannot play the recording; <a href="/calls/{{path}}/recording">download it</a>.</audio>
        {{/recording}}
        <h2>Timeline</h2>
        <ol id="timeline" class="timeline">
        {{#timeline}}<li><span class="when">{{at}}</span> {{what}}</li>{{/timeline}}
        </ol>
        <h2>Transcript</h2>
        <ol id="transcript" class="transcript">
        {{#turns}}<li><p class="caller"><b>Caller:</b> {{callerText}}</p><p class="assistant"><b>Assistant:</b> {{replyText}}</p></li>{{/turns}}
        </ol>
        {{^turns}}<p>No words were exchanged.</p>{{/turns}}
        {{#waterfall}}
        <h2>Latency per turn</h2>
        {{{waterfall}}}
        {{/waterfall}}
        """

    static let problem = """
        <h1>{{heading}}</h1>
        <p class="error" role="alert" id="error">{{message}}</p>
        <p><a href="/">Back to the dashboard</a></p>
        """
}
