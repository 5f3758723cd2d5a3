// A form whose submission the server may refuse: the reason is shown beside it, and a lockout (429) is counted
// down with the button held until it ends, or until another username is typed (a lock is of one username).
import { ApiError, Unreachable } from './api.js'

/** What to tell of a refusal; undefined: the server's own words. */
export type Explain = (e: ApiError) => string | undefined

export function guardForm(form: HTMLFormElement, error: HTMLElement, submit: (data: FormData) => Promise<void>, explain: Explain): void {
  const button = form.querySelector<HTMLButtonElement>('button[type="submit"]')!
  let lockedUntil = 0
  let countdown: number | undefined

  const showLock = (message: string) => {
    const left = Math.ceil((lockedUntil - Date.now()) / 1000)
    if (left <= 0) {
      clearInterval(countdown)
      button.disabled = false
      error.textContent = ''
      return
    }
    error.textContent = `${message} Try again in ${left} s (at ${new Date(lockedUntil).toLocaleTimeString()}).`
  }

  form.addEventListener('input', (e) => {
    if ((e.target as HTMLInputElement).name !== 'username' || lockedUntil === 0) return
    lockedUntil = 0
    showLock('')
  })

  form.addEventListener('submit', (e) => {
    e.preventDefault()
    if (button.disabled) return
    error.textContent = ''
    button.disabled = true
    submit(new FormData(form)).then(
      () => (button.disabled = false),
      (failure: unknown) => {
        button.disabled = false
        if (failure instanceof ApiError && failure.status === 429) {
          lockedUntil = Date.now() + (failure.retryAfter ?? 60) * 1000
          button.disabled = true
          const message = 'Too many failed attempts.'
          showLock(message)
          clearInterval(countdown)
          countdown = window.setInterval(() => showLock(message), 1000)
          return
        }
        if (failure instanceof ApiError) error.textContent = explain(failure) ?? `Refused: ${failure.reason}.`
        else if (failure instanceof Unreachable) error.textContent = 'The server cannot be reached. Try again in a moment.'
        else error.textContent = `Something went wrong: ${String(failure)}`
      },
    )
  })
}
