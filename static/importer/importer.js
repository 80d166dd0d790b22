// Upload progress: show the form's <progress> while htmx sends the file (no inline scripts).
document.addEventListener("htmx:xhr:progress", function (event) {
  var form = event.target.closest ? event.target.closest("#upload-form") : null;
  if (!form || !event.detail.lengthComputable) return;
  var box = form.querySelector(".upload-progress");
  var bar = form.querySelector("progress");
  box.hidden = false;
  bar.value = Math.round((event.detail.loaded / event.detail.total) * 100);
  bar.textContent = bar.value + "%";
});
