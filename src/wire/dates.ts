// The original's strftime formats, in server local time and English names as Python's C locale prints them.
const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat']
const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
const two = (n: number) => String(n).padStart(2, '0')
const clock = (d: Date) => `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`
const dayMonth = (d: Date) => `${two(d.getDate())} ${months[d.getMonth()]}`

/** %a, %d %b %Y %H:%M:%S, e.g. "Wed, 25 Nov 2026 00:20:04". */
export const startWorkText = (d: Date) => `${days[d.getDay()]}, ${dayMonth(d)} ${d.getFullYear()} ${clock(d)}`
/** %d %b %Y %H:%M:%S, e.g. "25 Nov 2026 00:21:10". */
export const actualTimeText = (d: Date) => `${dayMonth(d)} ${d.getFullYear()} ${clock(d)}`
/** %d %b %H:%M:%S, the CSV load log's time, e.g. "25 Nov 00:20:04". */
export const loadLogTime = (d: Date) => `${dayMonth(d)} ${clock(d)}`
