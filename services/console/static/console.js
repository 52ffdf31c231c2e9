// The console works without this script; it only asks before irreversible actions.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form.action.endsWith("/cancel") && !window.confirm(document.documentElement.lang === "ja" ? "取り消しますか？" : "Cancel this enrolment?")) {
    event.preventDefault();
  }
});
