// The dashboard's entry: the views (this server live, a client's history, the fleet), which the URL names, the
// logins they need, and what a test or a script may read of the charts (window.systemMonitorDashboard).
import 'uplot/dist/uPlot.min.css'
import './style.css'
import { asAdmin, asClient, fleetList, logIn, type Access } from './api.js'
import { Fleet } from './fleet.js'
import { guardForm } from './forms.js'
import { History } from './history.js'
import { Live } from './live.js'
import { placeSearch, readPlace, views, type Place, type View } from './place.js'
import { forgetLogin, forgetToken, saveLogin, savedLogin, savedToken, saveToken } from './session.js'
import type { DashboardState } from './snapshot.js'
import { ConnectionStatus } from './status.js'
import { $ } from './dom.js'

declare global {
  interface Window {
    /** The data the charts hold, as they hold it. */
    systemMonitorDashboard: DashboardState
  }
}

const fleetOn = document.documentElement.dataset.fleet === 'on'
const titles: Record<View, string> = { server: 'This server', history: 'History', fleet: 'Fleet' }

const status = new ConnectionStatus($('connection'))
const live = new Live(status)
const loginForm = $<HTMLFormElement>('login')
const loginError = $('login-error')
const adminForm = $<HTMLFormElement>('admin-login')
const adminError = $('admin-error')

let place: Place = readPlace(location.search)
if (place.view === 'fleet' && !fleetOn) place = { ...place, view: 'server' }

const history = new History(status, {
  moved(range) {
    place = { ...place, range }
    window.history.replaceState(null, '', placeSearch(place))
    syncTabs()
  },
  refused(access) {
    if (access.admin) {
      forgetToken()
      loginError.textContent = 'The admin token was refused: open the fleet and give it again, or log in as the client.'
    } else {
      forgetLogin()
      loginError.textContent = 'The saved login was refused: log in again.'
    }
    render()
  },
})
const fleet = fleetOn
  ? new Fleet(status, {
      refused(e) {
        // Given again once the lock is over: the list is not asked for meanwhile.
        forgetToken()
        adminError.textContent = e.status === 401 ? 'The token was refused.' : `Too many failed attempts: try again in ${e.retryAfter ?? 60} s.`
        render()
      },
    })
  : undefined

window.systemMonitorDashboard = { live: () => live.snapshot(), history: () => history.snapshot(), fleet: () => fleet?.snapshot() }

/** Moves to a place: it is kept in the URL (a new entry of the browser's history unless `replace`). */
function go(next: Place, replace = false): void {
  place = next
  if (replace) window.history.replaceState(null, '', placeSearch(place))
  else window.history.pushState(null, '', placeSearch(place))
  render()
}

function syncTabs(): void {
  for (const tab of document.querySelectorAll<HTMLAnchorElement>('nav [data-view]')) {
    const view = tab.dataset.view as View
    tab.hidden = view === 'fleet' && !fleetOn
    tab.href = placeSearch({ ...place, view })
    if (view === place.view) tab.setAttribute('aria-current', 'page')
    else tab.removeAttribute('aria-current')
  }
}

/** Which way the history reads the client: its own login, else the admin token; none: the login form. */
function accessFor(client: string | undefined): Access | undefined {
  const login = savedLogin()
  const token = savedToken()
  if (login && (client === undefined || client === login.username)) return asClient(login.username, login.clientId)
  if (client !== undefined && token !== undefined && fleetOn) return asAdmin(client, token)
  return undefined
}

function renderHistory(): void {
  const access = accessFor(place.client)
  loginForm.hidden = access !== undefined
  $('history').hidden = access === undefined
  if (!access) {
    history.close()
    const username = loginForm.elements.namedItem('username') as HTMLInputElement
    if (place.client && !username.value) username.value = place.client
    return
  }
  $('history-client').textContent = access.admin ? `${access.username} (read with the admin token)` : `Logged in as ${access.username}`
  $('logout').hidden = access.admin
  history.open(access, place.range)
}

function renderFleet(): void {
  const token = savedToken()
  adminForm.hidden = token !== undefined
  $('fleet').hidden = token === undefined
  if (token === undefined) fleet?.close()
  else fleet?.open(token)
}

function render(): void {
  for (const view of views) $(`view-${view}`).hidden = view !== place.view
  document.title = `${titles[place.view]}: system-monitor`
  syncTabs()
  if (place.view === 'history') renderHistory()
  else history.close()
  if (place.view === 'fleet') renderFleet()
  else fleet?.close()
}

guardForm(
  loginForm,
  loginError,
  async (data) => {
    const username = String(data.get('username') ?? '').trim()
    const { clientId } = await logIn(username, String(data.get('password') ?? ''))
    saveLogin({ username, clientId })
    ;(loginForm.elements.namedItem('password') as HTMLInputElement).value = ''
    go({ ...place, client: username }, true)
  },
  (e) =>
    e.status === 401 && e.reason === 'unsupportable username'
      ? 'This username cannot be used: it begins with a letter, then letters, digits, "_", "." or "-", 64 at most.'
      : e.status === 401
        ? 'Wrong password for this username.'
        : undefined,
)

guardForm(
  adminForm,
  adminError,
  async (data) => {
    const token = String(data.get('token') ?? '').trim()
    // Tried once before it is kept: a wrong token is said at once, beside the form.
    await fleetList(token)
    saveToken(token)
    ;(adminForm.elements.namedItem('token') as HTMLInputElement).value = ''
    render()
  },
  (e) => (e.status === 401 ? 'The token was refused.' : undefined),
)

$('logout').addEventListener('click', () => {
  forgetLogin()
  go({ ...place, client: undefined }, true)
})
$('admin-logout').addEventListener('click', () => {
  forgetToken()
  render()
})

// Links within the page move without loading it again (the live feed stays connected).
document.addEventListener('click', (e) => {
  const link = (e.target as Element).closest<HTMLAnchorElement>('a[data-view], a[data-nav]')
  if (!link || e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return
  e.preventDefault()
  go(readPlace(new URL(link.href).search))
  $('main').focus()
})
window.addEventListener('popstate', () => {
  place = readPlace(location.search)
  render()
})

live.start()
render()

