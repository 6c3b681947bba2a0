import Mustache

/// The dashboard's pages as mustache templates (rendered on the server, HTML-escaped by `{{ }}`; `{{{ }}}` only for
/// HTML we built ourselves). No inline script or style: the content security policy forbids both.
enum DashboardTemplates {
    static func library() throws -> MustacheLibrary {
        var library = MustacheLibrary()
        for (name, text) in [
            ("layout", layout), ("signin", signIn), ("live", live), ("live-call", liveCall), ("history", history), ("detail", detail),
            ("problem", problem), ("csrf", csrfField), ("whitelist", whitelist), ("profile", profile), ("settings", settings), ("admin", admin),
            ("setup", setup), ("signup", signUp), ("new-account", newAccount),
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
        <a href="/whitelist"{{#onWhitelist}} aria-current="page"{{/onWhitelist}}>Whitelist</a>
        <a href="/settings"{{#onSettings}} aria-current="page"{{/onSettings}}>Settings</a>
        {{#isAdmin}}<a href="/admin"{{#onAdmin}} aria-current="page"{{/onAdmin}}>Admin</a>{{/isAdmin}}
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
        {{#message}}<p class="notice" role="status" id="message">{{message}}</p>{{/message}}
        {{#error}}<p class="error" role="alert" id="error">{{error}}</p>{{/error}}
        <form method="post" action="/login" class="stack">
        {{> csrf}}
        <label for="email">Email</label>
        <input id="email" name="email" type="email" autocomplete="email" required value="{{email}}">
        <label for="password">Password</label>
        <input id="password" name="password" type="password" autocomplete="current-password" required>
        <label for="totp">Authenticator code, if you turned it on</label>
        <input id="totp" name="totp" inputmode="numeric" autocomplete="off" pattern="[0-9]{6}" maxlength="6">
        <button type="submit">Sign in</button>
        </form>
        {{#needsSetup}}<p id="setup-link">First run? <a href="/setup">Set up Answer Ninja</a> with the setup code serve printed.</p>{{/needsSetup}}
        <p>No account? <a href="/signup">Sign up</a>.</p>
        """

    /// A new account's fields (setup and sign-up): name, email, the password twice.
    static let newAccount = """
        <label for="name">Your name</label>
        <input id="name" name="name" autocomplete="name" maxlength="100" value="{{name}}">
        <label for="email">Email</label>
        <input id="email" name="email" type="email" autocomplete="email" required value="{{email}}">
        <label for="password">Password (10 characters or more)</label>
        <input id="password" name="password" type="password" autocomplete="new-password" minlength="10" maxlength="128" required>
        <label for="password_again">The password again</label>
        <input id="password_again" name="password_again" type="password" autocomplete="new-password" minlength="10" maxlength="128" required>
        """

    static let setup = """
        <h1>Set up Answer Ninja</h1>
        <p>No one owns this Answer Ninja yet. Enter the setup code that <code>serve</code> printed when it started (the
        line that begins with <code>setup</code>), and choose how you sign in. You become its admin{{#demo}}, and the
        number <b>{{demo}}</b> and its calls are yours{{/demo}}.</p>
        {{#error}}<p class="error" role="alert" id="error">{{error}}</p>{{/error}}
        <form method="post" action="/setup" class="stack">
        {{> csrf}}
        <label for="code">Setup code</label>
        <input id="code" name="code" autocomplete="off" autocapitalize="characters" spellcheck="false" required>
        {{> new-account}}
        <button type="submit">Set up</button>
        </form>
        """

    static let signUp = """
        <h1>Sign up</h1>
        <p>Your account owns no number at first: an admin gives you one on the admin page.</p>
        {{#error}}<p class="error" role="alert" id="error">{{error}}</p>{{/error}}
        <form method="post" action="/signup" class="stack">
        {{> csrf}}
        {{> new-account}}
        <button type="submit">Sign up</button>
        </form>
        <p>Have an account? <a href="/login">Sign in</a>.</p>
        """

    static let live = """
        <h1>Live calls</h1>
        {{#message}}<p class="notice" role="status" id="message">{{message}}</p>{{/message}}
        {{#error}}<p class="error" role="alert" id="error">{{error}}</p>{{/error}}
        {{#numbers}}<p id="numbers">Calls to {{numbers}} appear here as they happen.</p>{{/numbers}}
        {{#noNumber}}<p class="notice" id="numbers">You own no number yet, so no call reaches you: an admin gives you one on the admin page.</p>{{/noNumber}}
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
        {{#profile}}<p><a id="profile" href="/profiles/{{profile}}">The caller's profile and spam score</a></p>{{/profile}}
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

    static let whitelist = """
        <h1>Whitelist</h1>
        {{#message}}<p class="notice" role="status" id="message">{{message}}</p>{{/message}}
        {{#error}}<p class="error" role="alert" id="error">{{error}}</p>{{/error}}
        <h2>Add a number</h2>
        <form method="post" action="/whitelist" class="stack">
        {{> csrf}}
        <label for="pattern">Number, or a prefix ending in *</label>
        <input id="pattern" name="pattern" inputmode="tel" required>
        <label for="label">Name (optional)</label>
        <input id="label" name="label" maxlength="100">
        <label for="list">List</label>
        <select id="list" name="list"><option value="allow">Allow: put through</option><option value="block">Block</option></select>
        <label for="minutes">Only for this many minutes (optional: a temporary entry)</label>
        <input id="minutes" name="minutes" type="number" min="1" max="525600">
        <button type="submit">Add</button>
        </form>
        <h2>Entries</h2>
        <p id="entry-count">{{total}} entr{{#one}}y{{/one}}{{^one}}ies{{/one}}</p>
        <ul id="entries" class="cards">
        {{#entries}}
        <li class="card"><span class="pattern">{{pattern}}</span>{{#label}} · <span class="label">{{label}}</span>{{/label}}
        · <span class="list">{{list}}</span> · <span class="source">{{source}}</span>{{#expires}} · until {{expires}}{{/expires}}
        {{#reason}}<br><span class="reason">Why: {{reason}}</span>{{/reason}}
        <form method="post" action="/whitelist/remove" class="inline">{{> csrf}}<input type="hidden" name="pattern" value="{{pattern}}"><button type="submit" aria-label="Remove {{pattern}}">Remove</button></form>
        {{#number}}<a href="/profiles/{{number}}">Profile</a>{{/number}}
        </li>
        {{/entries}}
        </ul>
        {{#next}}<p><a id="more" href="{{next}}">More entries</a></p>{{/next}}
        <h2>Import contacts</h2>
        <form method="post" action="/whitelist/import" class="stack">
        {{> csrf}}
        <label for="contacts">Paste a CSV export or vCard file</label>
        <textarea id="contacts" name="contacts" rows="6" required></textarea>
        <button type="submit">Import</button>
        </form>
        {{#hasProblems}}<h3>Lines not imported</h3>{{/hasProblems}}
        <ul id="problems">{{#problems}}<li>{{.}}</li>{{/problems}}</ul>
        """

    static let profile = """
        <h1>Caller <span id="number">{{number}}</span></h1>
        {{#message}}<p class="notice" role="status" id="message">{{message}}</p>{{/message}}
        <p>Spam score <strong id="score">{{score}}</strong> from {{calls}} call{{^oneCall}}s{{/oneCall}}{{#verdict}}; you said: <strong id="verdict">{{verdict}}</strong>{{/verdict}}.</p>
        <h2>Why</h2>
        <ul id="signals">{{#signals}}<li><b>{{name}}</b>: {{detail}} ({{contribution}})</li>{{/signals}}</ul>
        {{^signals}}<p>Nothing is known of this caller yet.</p>{{/signals}}
        <div class="actions">
        <form method="post" action="/profiles/{{number}}/verdict">{{> csrf}}<input type="hidden" name="verdict" value="spam"><button type="submit">Mark as spam</button></form>
        <form method="post" action="/profiles/{{number}}/verdict">{{> csrf}}<input type="hidden" name="verdict" value="not_spam"><button type="submit">Not spam</button></form>
        <form method="post" action="/profiles/{{number}}/verdict">{{> csrf}}<input type="hidden" name="verdict" value=""><button type="submit">Forget my verdict</button></form>
        </div>
        """

    static let settings = """
        <h1>Settings</h1>
        {{#message}}<p class="notice" role="status" id="message">{{message}}</p>{{/message}}
        {{#error}}<p class="error" role="alert" id="error">{{error}}</p>{{/error}}
        <form method="post" action="/settings" class="stack">
        {{> csrf}}
        <label for="persona">Persona of the assistant</label>
        <select id="persona" name="persona">{{#personas}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{value}}</option>{{/personas}}</select>
        <label for="greeting">Your own greeting (optional, instead of the persona's)</label>
        <input id="greeting" name="greeting" maxlength="300" value="{{greeting}}">
        <label class="check"><input type="checkbox" id="recording_disclosure" name="recording_disclosure" value="on"{{#recordingDisclosure}} checked{{/recordingDisclosure}}> Say that calls are recorded</label>
        <label class="check"><input type="checkbox" id="ai_enabled" name="ai_enabled" value="on"{{#aiEnabled}} checked{{/aiEnabled}}> The assistant answers unknown callers</label>
        <label class="check"><input type="checkbox" id="challenge" name="challenge" value="on"{{#challenge}} checked{{/challenge}}> Ask callers to press 1 first</label>
        <label class="check"><input type="checkbox" id="time_waster" name="time_waster" value="on"{{#timeWaster}} checked{{/timeWaster}}> Keep telemarketers talking (time-waster)</label>
        <fieldset><legend>Screen only at these times (optional)</legend>
        <div class="days">{{#days}}<label class="check"><input type="checkbox" id="day{{number}}" name="day{{number}}" value="on"{{#selected}} checked{{/selected}}> {{name}}</label>{{/days}}</div>
        <label for="from">From (HH:MM)</label><input id="from" name="from" value="{{from}}" pattern="[0-2][0-9]:[0-5][0-9]">
        <label for="to">To (HH:MM)</label><input id="to" name="to" value="{{to}}" pattern="[0-2][0-9]:[0-5][0-9]">
        <label for="time_zone">Time zone</label><input id="time_zone" name="time_zone" value="{{timeZone}}" placeholder="Europe/London">
        </fieldset>
        <label for="block_threshold">Block callers whose spam score is at least (0.5 to 1)</label>
        <input id="block_threshold" name="block_threshold" type="number" min="0.5" max="1" step="0.01" value="{{blockThreshold}}">
        <label for="block_action">A blocked caller gets</label>
        <select id="block_action" name="block_action"><option value="reject"{{#reject}} selected{{/reject}}>a rejection (603)</option><option value="goodbye"{{^reject}} selected{{/reject}}>a spoken goodbye</option></select>
        <label for="wanted_treatment">A wanted caller the assistant recognises</label>
        <select id="wanted_treatment" name="wanted_treatment"><option value="bridge"{{#bridge}} selected{{/bridge}}>is put through to you</option><option value="message"{{^bridge}} selected{{/bridge}}>leaves a message</option></select>
        <label for="forwarding_target">Your phone: a number, or your softphone's sip: address</label>
        <input id="forwarding_target" name="forwarding_target" value="{{forwardingTarget}}">
        <label for="webhook_url">Webhook called when a call ends (https://, optional)</label>
        <input id="webhook_url" name="webhook_url" type="url" value="{{webhookURL}}">
        <label for="retention_days">Keep calls for this many days</label>
        <input id="retention_days" name="retention_days" type="number" min="1" max="3650" value="{{retentionDays}}">
        <label for="region">Region of numbers written without a country code (optional, e.g. US)</label>
        <input id="region" name="region" value="{{region}}" maxlength="2">
        <button type="submit">Save</button>
        </form>
        <h2>Two-factor sign-in</h2>
        {{#totpOn}}
        <p id="totp-state">On: signing in asks for your authenticator's code.</p>
        <form method="post" action="/settings/totp/stop" class="stack">{{> csrf}}
        <label for="stop_code">To turn it off, enter a current code</label>
        <input id="stop_code" name="code" inputmode="numeric" autocomplete="off" pattern="[0-9]{6}" maxlength="6" required>
        <button type="submit">Turn off</button></form>
        {{/totpOn}}
        {{^totpOn}}
        {{#totpKey}}
        <p>Type this key into your authenticator app: <code id="totp-key">{{totpKey}}</code></p>
        <p class="small">Or open <a id="totp-url" href="{{totpURL}}">the authenticator link</a>.</p>
        <form method="post" action="/settings/totp/verify" class="stack">{{> csrf}}
        <label for="verify_code">Then enter the code it shows</label>
        <input id="verify_code" name="code" inputmode="numeric" autocomplete="off" pattern="[0-9]{6}" maxlength="6" required>
        <button type="submit">Turn on</button></form>
        {{/totpKey}}
        {{^totpKey}}
        <p id="totp-state">Off.</p>
        <form method="post" action="/settings/totp/start">{{> csrf}}<button type="submit">Set up two-factor sign-in</button></form>
        {{/totpKey}}
        {{/totpOn}}
        <h2>Your data</h2>
        <p><a id="export" href="/settings/export" download>Export my data</a> (a tar archive: account, settings, whitelist, every call with its turns, recordings and transcripts).</p>
        <form method="post" action="/settings/delete" class="stack" id="delete-everything">
        {{> csrf}}
        <label for="delete_password">To delete your account and everything of yours, enter your password</label>
        <input id="delete_password" name="password" type="password" autocomplete="current-password" required>
        <button type="submit" class="danger">Delete everything</button>
        </form>
        """

    static let admin = """
        <h1>Admin</h1>
        {{#message}}<p class="notice" role="status" id="message">{{message}}</p>{{/message}}
        {{#error}}<p class="error" role="alert" id="error">{{error}}</p>{{/error}}
        <h2>System health</h2>
        <p id="health">{{overall}}</p>
        <ul id="checks">{{#checks}}<li><b>{{name}}</b>: {{state}} ({{detail}})</li>{{/checks}}</ul>
        <h2>Calls per hour, last 24 hours</h2>
        {{{callsChart}}}
        <p id="calls-total">{{callsTotal}} calls in the last 24 hours.</p>
        <h2>Latency, last 24 hours</h2>
        <table id="latency"><caption>Per stage, from the call records ({{turns}} turns)</caption>
        <thead><tr><th scope="col">stage</th><th scope="col">p50</th><th scope="col">p95</th></tr></thead>
        <tbody>{{#latency}}<tr><th scope="row">{{stage}}</th><td>{{p50}}</td><td>{{p95}}</td></tr>{{/latency}}</tbody></table>
        <h2>Users</h2>
        <ul id="users" class="cards">{{#users}}<li class="card"><b>{{email}}</b> · {{name}} · <span class="role">{{role}}</span>{{#numbers}} · {{numbers}}{{/numbers}}
        {{^isSelf}}<form method="post" action="/admin/users/role" class="inline">{{> csrf}}<input type="hidden" name="id" value="{{id}}"><input type="hidden" name="role" value="{{otherRole}}"><button type="submit">Make {{otherRole}}</button></form>{{/isSelf}}
        <form method="post" action="/admin/users/number" class="inline give-number">{{> csrf}}<input type="hidden" name="id" value="{{id}}"><label for="number-{{id}}">Give a number to {{name}}</label> <input id="number-{{id}}" name="number" inputmode="tel" placeholder="+14155550123" required> <button type="submit">Give</button></form></li>{{/users}}</ul>
        """

    static let problem = """
        <h1>{{heading}}</h1>
        <p class="error" role="alert" id="error">{{message}}</p>
        <p><a href="/">Back to the dashboard</a></p>
        """
}
