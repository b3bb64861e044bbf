/** The HTML report: `loadReportData` reads the database, `renderReport` writes the page (pure). */
export { loadReportData, type ReportData, type ReportLaneDay, type ReportEvent, type ReportDnsblDay } from './data.js';
export { renderReport } from './render.js';
